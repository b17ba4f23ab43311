/** Options given before the command (`ferry --config x.ts migrate up`), which every command reads. */
export interface GlobalOptions {
  config?: string;
}
