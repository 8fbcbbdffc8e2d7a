package dev.mergeval.eval;

import dev.mergeval.eval.datasets.EvalExample;
import dev.mergeval.eval.judges.Judge;
import dev.mergeval.eval.judges.JudgeInput;
import dev.mergeval.eval.judges.Verdict;
import dev.mergeval.eval.scorers.ExactMatchScorer;
import dev.mergeval.eval.scorers.GenerationScorer;
import dev.mergeval.eval.scorers.Gsm8kScorer;
import dev.mergeval.eval.scorers.MultipleChoiceScorer;
import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs one task on one slice of its items with one model and returns a record per item. This is
 * the unit of work both locally and on a Spark executor; the records of a slice do not depend on
 * how the items were sliced (the runtime's batched calls are exact per input).
 */
public final class TaskRunner {

    /** Prompts per runtime call: bounds memory, not results. */
    static final int BATCH = 32;

    private TaskRunner() {
    }

    /**
     * @param judge the task's judge (already bound to its judge model), or {@code null} for scored tasks
     */
    public static List<PromptRecord> run(LanguageModel model, EvalTask task, List<EvalExample> items, Judge judge) {
        return task.generates() ? generate(model, task, items, judge) : multipleChoice(model, task, items);
    }

    /** The text sent to the model: chat-templated with an optional system message, or raw. */
    public static String render(LanguageModel model, EvalTask task, String prompt) {
        if (task.chatTemplate()) {
            List<ChatMessage> messages = new ArrayList<>();
            if (task.systemPrompt() != null && !task.systemPrompt().isBlank()) {
                messages.add(ChatMessage.system(task.systemPrompt()));
            }
            messages.add(ChatMessage.user(prompt));
            return model.renderChat(messages, true);
        }
        // Without a template the system prompt is a plain first paragraph.
        return task.systemPrompt() == null || task.systemPrompt().isBlank() ? prompt : task.systemPrompt() + "\n\n" + prompt;
    }

    private static List<PromptRecord> generate(LanguageModel model, EvalTask task, List<EvalExample> items, Judge judge) {
        List<String> rendered = items.stream().map(e -> render(model, task, e.prompt())).toList();
        List<Completion> completions = new ArrayList<>(items.size());
        for (int from = 0; from < items.size(); from += BATCH) {
            List<String> batch = rendered.subList(from, Math.min(items.size(), from + BATCH));
            List<Completion> out = model.generate(batch, task.generation());
            if (out.size() != batch.size()) {
                throw new IllegalStateException(model.id() + " returned " + out.size() + " completions for "
                        + batch.size() + " prompts");
            }
            completions.addAll(out);
        }
        List<Verdict> verdicts = judge == null ? null : judge.judge(java.util.stream.IntStream.range(0, items.size())
                .mapToObj(i -> new JudgeInput(items.get(i).prompt(), completions.get(i).text())).toList());
        GenerationScorer scorer = judge != null ? null
                : EvalTask.GSM8K.equals(task.scorer()) ? new Gsm8kScorer() : new ExactMatchScorer();
        List<PromptRecord> records = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            EvalExample e = items.get(i);
            Completion c = completions.get(i);
            Boolean refused = null;
            Boolean harmful = null;
            boolean parseable = true;
            String evidence;
            Map<String, Boolean> outcomes;
            if (verdicts != null) {
                Verdict v = verdicts.get(i);
                refused = v.refused();
                harmful = v.harmful();
                parseable = v.parseable();
                evidence = v.judgeOutput();
                outcomes = JudgeRun.outcomes(judge, v);
            } else {
                outcomes = scorer.score(e, c.text());
                evidence = scorer instanceof Gsm8kScorer
                        ? "strict=" + Gsm8kScorer.extractStrict(c.text()) + " flexible=" + Gsm8kScorer.extractFlexible(c.text())
                        : "";
            }
            records.add(new PromptRecord(model.id(), task.name(), e.id(), e.category(), rendered.get(i), c.text(),
                    judge == null ? null : judge.name(), refused, harmful, parseable, evidence, outcomes,
                    c.promptIds().size(), c.outputIds().size(), c.latencyNanos() / 1e6));
        }
        return records;
    }

    private static List<PromptRecord> multipleChoice(LanguageModel model, EvalTask task, List<EvalExample> items) {
        MultipleChoiceScorer scorer = new MultipleChoiceScorer();
        List<PromptRecord> records = new ArrayList<>(items.size());
        for (EvalExample e : items) {
            // Context is rendered like generation prompts, so chat_template applies to MC tasks too.
            String context = render(model, task, e.prompt());
            List<LogLikelihoodRequest> requests = scorer.requests(context, e);
            long start = System.nanoTime();
            List<LogLikelihood> lls = model.logLikelihood(requests);
            double ms = (System.nanoTime() - start) / 1e6;
            Map<String, Boolean> outcomes = scorer.score(e, lls);
            StringBuilder evidence = new StringBuilder("ll=");
            int tokens = 0;
            for (int i = 0; i < lls.size(); i++) {
                evidence.append(i == 0 ? "" : ",").append(String.format(java.util.Locale.ROOT, "%.4f", lls.get(i).logProb()));
                tokens += lls.get(i).tokenCount();
            }
            records.add(new PromptRecord(model.id(), task.name(), e.id(), e.category(), context, "", null, null, null,
                    true, evidence.toString(), outcomes, 0, tokens, ms));
        }
        return records;
    }
}
