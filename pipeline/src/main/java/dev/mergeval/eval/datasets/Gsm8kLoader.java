package dev.mergeval.eval.datasets;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Pattern;

/**
 * GSM8K JSON Lines (Cobbe et al. 2021): {@code question}, {@code answer} whose last line is
 * {@code #### N}. Prompts follow lm-evaluation-harness's {@code gsm8k} task:
 * {@code "Question: {question}\nAnswer:"}, each shot being {@code "Question: q\nAnswer: a"} and
 * shots separated by a blank line. The shots for an item are drawn from a separate file (normally
 * the train split) with {@link KeyedRandom} keyed by the item id, so the same item always gets the
 * same shots whatever the slice it is evaluated in; an item never gets itself as a shot.
 */
public final class Gsm8kLoader {

    private static final Pattern FINAL = Pattern.compile("(?s).*\\n#### \\S.*");

    private Gsm8kLoader() {
    }

    /** Loads zero-shot prompts. */
    public static Dataset load(String path) {
        return load(path, null, 0, KeyedRandom.DEFAULT_SEED);
    }

    /**
     * Loads prompts with {@code nShot} solved examples from {@code fewShotPath}.
     *
     * @param seed selects the shots, per item id
     */
    public static Dataset load(String path, String fewShotPath, int nShot, long seed) {
        if (nShot < 0) {
            throw new BadInputException(path + ": n_shot must be >= 0, got " + nShot);
        }
        List<String[]> items = read(path);
        List<String[]> pool = List.of();
        if (nShot > 0) {
            if (fewShotPath == null) {
                throw new BadInputException(path + ": n_shot=" + nShot + " needs a few-shot file");
            }
            pool = read(fewShotPath);
            if (pool.size() <= nShot) {
                throw new BadInputException(fewShotPath + ": " + pool.size() + " rows, too few for "
                        + nShot + " distinct shots");
            }
        }
        String stem = DatasetFiles.stem(path);
        List<EvalExample> out = new ArrayList<>();
        for (String[] qa : items) {
            String id = "gsm8k-" + stem + "-" + out.size();
            StringBuilder prompt = new StringBuilder();
            for (String[] shot : shots(pool, nShot, seed, id, qa[0])) {
                prompt.append("Question: ").append(shot[0]).append("\nAnswer: ").append(shot[1]).append("\n\n");
            }
            prompt.append("Question: ").append(qa[0]).append("\nAnswer:");
            out.add(new EvalExample(id, prompt.toString(), qa[1], null, List.of(), Map.of("question", qa[0])));
        }
        return new Dataset(path, DatasetKind.GSM8K, out);
    }

    private static List<String[]> shots(List<String[]> pool, int n, long seed, String id, String question) {
        List<String[]> chosen = new ArrayList<>();
        if (n == 0) {
            return chosen;
        }
        // A partial Fisher-Yates shuffle over indices, driven by the item's own stream.
        SplittableRandom rnd = KeyedRandom.stream(seed, id);
        int[] idx = new int[pool.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        for (int i = 0; i < idx.length && chosen.size() < n; i++) {
            int j = i + rnd.nextInt(idx.length - i);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
            String[] candidate = pool.get(idx[i]);
            if (!candidate[0].equals(question)) {
                chosen.add(candidate);
            }
        }
        return chosen;
    }

    private static List<String[]> read(String path) {
        List<String[]> out = new ArrayList<>();
        for (JsonlFile.Line l : JsonlFile.read(path)) {
            String answer = l.text("answer");
            if (!FINAL.matcher(answer).matches() && !answer.startsWith("#### ")) {
                throw l.bad("answer does not end with a '#### N' line");
            }
            out.add(new String[] {l.text("question"), answer});
        }
        return out;
    }
}
