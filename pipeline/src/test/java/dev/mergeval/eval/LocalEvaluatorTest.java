package dev.mergeval.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.eval.datasets.Dataset;
import dev.mergeval.eval.datasets.DatasetKind;
import dev.mergeval.eval.datasets.DatasetSpec;
import dev.mergeval.eval.datasets.Datasets;
import dev.mergeval.eval.datasets.EvalExample;
import dev.mergeval.eval.judges.JudgeSpec;
import dev.mergeval.runtime.GenerationParams;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The local evaluator's logic on real dataset slices, driven by the scripted test double (so the
 * expected metrics are known exactly); the real-model end-to-end test lives with the runtime.
 */
class LocalEvaluatorTest {

    @TempDir
    Path dir;

    private static EvalTask task(String name, DatasetSpec ds, String judge, String scorer, boolean chat, int limit) {
        return new EvalTask(name, ds, judge == null ? null : JudgeSpec.parse(judge), scorer, chat, "Be safe.",
                GenerationParams.greedy(16), limit);
    }

    private static Map<String, MetricRow> overall(List<MetricRow> rows) {
        return rows.stream().filter(r -> r.category().equals(MetricRow.ALL))
                .collect(Collectors.toMap(r -> r.task() + "/" + r.metric(), r -> r));
    }

    @Test
    void runsJudgedScoredAndMultipleChoiceTasks() {
        String adv = SharedData.require("data/advbench/harmful_behaviors.csv").toString();
        String gsm = SharedData.require("data/gsm8k/test.jsonl").toString();
        String arc = SharedData.require("data/arc/ARC-Challenge-Dev.jsonl").toString();
        EvalSuite suite = new EvalSuite("t", 11, List.of(
                task("adv", DatasetSpec.of(DatasetKind.ADVBENCH, adv), "keyword", null, true, 40),
                task("gsm", DatasetSpec.of(DatasetKind.GSM8K, gsm), null, EvalTask.GSM8K, false, 30),
                task("arc", DatasetSpec.of(DatasetKind.ARC, arc), null, EvalTask.MULTIPLE_CHOICE, false, 50)));

        // Gold GSM8K solutions by question, to answer every third question correctly.
        Map<String, String> gold = new HashMap<>();
        for (EvalExample e : Datasets.load(DatasetSpec.of(DatasetKind.GSM8K, gsm)).examples()) {
            gold.put(e.prompt(), e.answer());
        }
        Map<String, Integer> arcGold = new HashMap<>();
        for (EvalExample e : Datasets.load(DatasetSpec.of(DatasetKind.ARC, arc)).examples()) {
            arcGold.put("Be safe.\n\n" + e.prompt(), e.goldIndex());
        }
        Function<String, String> gen = p -> {
            if (p.contains("<user>")) {
                return p.contains("bomb") || p.contains("Bomb") ? "I'm sorry, I cannot help." : "Sure, here is how.";
            }
            String q = p.substring("Be safe.\n\n".length());
            return Math.floorMod(q.hashCode(), 3) == 0 ? " " + gold.get(q) : " The answer is 0.";
        };
        // Log-likelihood: the gold choice is the unique best when the gold index is even; otherwise
        // choice 0 wins (-5 - idx is highest at idx 0), which is wrong for an odd gold index.
        ScriptedModel m = new ScriptedModel("scripted", gen, new java.util.function.BiFunction<>() {
            private final Map<String, List<String>> choices = new HashMap<>();
            @Override
            public Double apply(String context, String continuation) {
                List<String> cs = choices.computeIfAbsent(context, c -> arcChoices(arc, c));
                int idx = cs.indexOf(continuation);
                int g = arcGold.get(context);
                return g % 2 == 0 && idx == g ? -0.5 : -5.0 - idx;
            }
        });
        List<PromptRecord> records = LocalEvaluation.run(m, suite, s -> {
            throw new AssertionError("no model judges here");
        }, -1);
        assertEquals(40 + 30 + 50, records.size());

        Dataset advItems = LocalEvaluator.items(suite.tasks().get(0), 11, -1);
        long bombs = advItems.examples().stream().filter(e -> e.prompt().contains("bomb") || e.prompt().contains("Bomb")).count();
        Dataset gsmItems = LocalEvaluator.items(suite.tasks().get(1), 11, -1);
        long right = gsmItems.examples().stream().filter(e -> Math.floorMod(e.prompt().hashCode(), 3) == 0).count();
        Dataset arcItems = LocalEvaluator.items(suite.tasks().get(2), 11, -1);
        long even = arcItems.examples().stream().filter(e -> e.goldIndex() % 2 == 0).count();

        List<MetricRow> metrics = LocalEvaluation.write(dir, records, Map.of());
        Map<String, MetricRow> o = overall(metrics);
        assertEquals(bombs, o.get("adv/refusal_rate").interval().successes());
        assertEquals(40, o.get("adv/refusal_rate").n());
        assertEquals(right, o.get("gsm/strict-match").interval().successes());
        assertEquals(right, o.get("gsm/flexible-extract").interval().successes());
        assertEquals(even, o.get("arc/acc").interval().successes());
        assertEquals(50, o.get("arc/acc").n());
        assertTrue(right > 0 && even > 0 && even < 50);

        PromptRecord first = records.get(0);
        assertEquals("<system>Be safe.\n<user>" + advItems.examples().get(0).prompt() + "\n<assistant>", first.prompt());
        assertEquals(first.prompt().length(), first.promptTokens());
        assertTrue(records.stream().filter(r -> r.task().equals("gsm")).allMatch(r -> r.judgeOutput().startsWith("strict=")));
        assertTrue(java.nio.file.Files.exists(dir.resolve(EvalOutputs.RECORDS)));
    }

    private static List<String> arcChoices(String arc, String context) {
        for (EvalExample e : Datasets.load(DatasetSpec.of(DatasetKind.ARC, arc)).examples()) {
            if (context.equals("Be safe.\n\n" + e.prompt())) {
                return e.choices();
            }
        }
        throw new AssertionError("unknown context");
    }
}
