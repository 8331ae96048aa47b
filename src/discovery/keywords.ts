// Search queries from plain instructions when there is no LLM to write them: the words that
// carry meaning (stop words and generic words dropped), then a few combinations of them.

const STOP_WORDS = new Set(
  `a an the of to in on at by for from with without into onto over under about as and or but nor not no so
  is are was were be been being am do does did done have has had having will would shall should can could may might must
  i me my we our you your he she it its they them their this that these those there here what which who whom whose
  when where why how all any each every some such than then too very just only also more most less least
  please want wants need needs like able using use uses via per one two if else while until up down out off again
  let lets let's something anything everything thing things way ways etc e.g i.e given`.split(/\s+/),
);

/** Words that say what kind of request this is but not which tool does it. */
const GENERIC_WORDS = new Set(
  `tool tools program programs command commands cli utility utilities app application binary rust crate
  make makes create creates build builds get gets show shows display displays print prints give gives run runs
  file files input output text data stdin stdout line lines simple fast small quick new
  read reads write writes take takes return returns produce produces work works help`.split(/\s+/),
);

/** Lower-case words of the instructions, without stop words, in order, each once. */
export function contentWords(instructions: string): string[] {
  const words = instructions
    .toLowerCase()
    .split(/[^a-z0-9+#-]+/)
    .map((w) => w.replace(/^-+|-+$/g, ""))
    .filter((w) => w.length >= 2 && !STOP_WORDS.has(w) && !/^\d+$/.test(w));
  return [...new Set(words)];
}

/** The content words that name the job itself (not "tool", "file", "show"...). */
export function distinctiveWords(instructions: string): string[] {
  const words = contentWords(instructions);
  const distinctive = words.filter((w) => !GENERIC_WORDS.has(w));
  return distinctive.length > 0 ? distinctive : words;
}

/**
 * Up to `max` search queries: the distinctive words together (at most three), then
 * adjacent pairs, then each word alone; crates.io matches every word of a query, so the
 * narrower queries catch crates whose description uses only some of the words.
 */
export function queriesFromInstructions(instructions: string, max = 4): string[] {
  const words = distinctiveWords(instructions).slice(0, 6);
  if (words.length === 0) return [];
  const queries = [words.slice(0, 3).join(" ")];
  for (let i = 0; i + 1 < words.length && i < 2; i++) queries.push(`${words[i]} ${words[i + 1]}`);
  for (const w of words) queries.push(w);
  return [...new Set(queries)].slice(0, max);
}
