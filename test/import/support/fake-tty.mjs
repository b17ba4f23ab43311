// Preloaded into `ferry import` children by the crash tests (node --import):
// claim that stderr is a terminal so the CLI draws its live progress bar (a
// redraw every 100 ms, after each committed batch) into the pipe the test
// reads. Nothing else about the CLI changes.
process.stderr.isTTY = true;
process.stderr.columns = 120;
