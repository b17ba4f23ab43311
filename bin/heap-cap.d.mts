/** Types of heap-cap.mjs (plain JavaScript so that `ferry` starts without tsx). */
export declare function commandOf(args: string[]): string | undefined;
export declare function heapCapFor(args: string[], env?: NodeJS.ProcessEnv, execArgv?: string[]): number | null;
export declare function relaunch(bin: string, args: string[], mb: number): void;
export declare function endWithParent(): void;
export declare function v8Flags(mb: number, options?: { server?: boolean }): string[];
export declare function targetsServer(args: string[], env?: NodeJS.ProcessEnv): boolean;
