/** Child of flush.test.ts: appends and flushes, printing a marker write before each step. */
import { writeSync } from "node:fs";
import { Pile } from "../../src/pile/pile.ts";

const [path] = process.argv.slice(2) as [string];
const step = (name: string) => writeSync(2, `step ${name}\n`);
const writer = Pile.open(path);
const reader = Pile.open(path);
step("append");
writer.put(new TextEncoder().encode("flushed once"));
step("flush writer");
writer.flush();
step("flush writer again");
writer.flush();
step("flush the other handle");
reader.refresh();
reader.flush();
step("append again");
writer.put(new TextEncoder().encode("flushed off the main thread"));
step("flushAsync writer");
await writer.flushAsync();
step("flushAsync clean writer");
await writer.flushAsync();
step("done");
writer.close();
reader.close();
