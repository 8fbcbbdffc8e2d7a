package dev.mergeval.merge;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/** Seeded edits of a YAML config, line by line, for the fuzz tests of the parser and of whole merges. */
public final class ConfigMutations {

    private ConfigMutations() {
    }

    /**
     * One or two edits of {@code seed}: a value replaced by one of {@code values} (half the edits),
     * a line deleted, repeated or re-indented.
     */
    public static String mutate(String seed, SplittableRandom random, String[] values) {
        List<String> lines = new ArrayList<>(Arrays.asList(seed.split("\n")));
        for (int edits = 1 + random.nextInt(2), e = 0; e < edits; e++) {
            int at = random.nextInt(lines.size());
            String line = lines.get(at);
            switch (random.nextInt(6)) {
                case 0, 1, 2 -> {
                    int colon = line.indexOf(": ");
                    int dash = line.indexOf("- ");
                    int from = colon >= 0 ? colon + 2 : dash >= 0 ? dash + 2 : -1;
                    if (from >= 0) {
                        lines.set(at, line.substring(0, from) + values[random.nextInt(values.length)]);
                    }
                }
                case 3 -> lines.remove(at);
                case 4 -> lines.add(at, line);
                default -> lines.set(at, random.nextBoolean() ? "  " + line : line.strip());
            }
            if (lines.isEmpty()) {
                lines.add("{}");
            }
        }
        return String.join("\n", lines) + "\n";
    }
}
