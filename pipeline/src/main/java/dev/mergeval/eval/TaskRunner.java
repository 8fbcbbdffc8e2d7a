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
import dev.mergeval.runtime.ModelRequestException;
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
            return model.renderChat(conversation(task, prompt), true);
        }
        // Without a template the system prompt is a plain first paragraph.
        return task.systemPrompt() == null || task.systemPrompt().isBlank() ? prompt : task.systemPrompt() + "\n\n" + prompt;
    }

    /** The conversation of a chat-templated task: an optional system message, then the prompt. */
    static List<ChatMessage> conversation(EvalTask task, String prompt) {
        List<ChatMessage> messages = new ArrayList<>();
        if (task.systemPrompt() != null && !task.systemPrompt().isBlank()) {
            messages.add(ChatMessage.system(task.systemPrompt()));
        }
        messages.add(ChatMessage.user(prompt));
        return messages;
    }

    /** What {@code judge_output} of a record whose request failed for good starts with. */
    public static final String ENGINE_ERROR = "engine error: ";

    private static List<PromptRecord> generate(LanguageModel model, EvalTask task, List<EvalExample> items, Judge judge) {
        List<String> rendered = items.stream().map(e -> render(model, task, e.prompt())).toList();
        List<Completion> completions = new ArrayList<>(items.size());
        for (int from = 0; from < items.size(); from += BATCH) {
            int to = Math.min(items.size(), from + BATCH);
            // Chat tasks go to the model as messages (a served model applies its own template).
            List<Completion> out = task.chatTemplate()
                    ? model.chat(items.subList(from, to).stream().map(e -> conversation(task, e.prompt())).toList(),
                            task.generation())
                    : model.generate(rendered.subList(from, to), task.generation());
            if (out.size() != to - from) {
                throw new IllegalStateException(model.id() + " returned " + out.size() + " completions for "
                        + (to - from) + " prompts");
            }
            completions.addAll(out);
        }
        // Judged: the completions the engine returned; a failed request is recorded, not judged.
        List<Integer> answered = java.util.stream.IntStream.range(0, items.size())
                .filter(i -> !completions.get(i).failed()).boxed().toList();
        Verdict[] verdicts = new Verdict[items.size()];
        if (judge != null && !answered.isEmpty()) {
            List<Verdict> judged = judge.judge(answered.stream()
                    .map(i -> new JudgeInput(items.get(i).prompt(), completions.get(i).text())).toList());
            for (int k = 0; k < answered.size(); k++) {
                verdicts[answered.get(k)] = judged.get(k);
            }
        }
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
            if (c.failed()) {
                parseable = false;
                evidence = ENGINE_ERROR + c.error();
                outcomes = unanswered(judge != null ? JudgeRun.outcomes(judge, Verdict.unparseable(judge.name(), ""))
                        : scorer.score(e, ""));
            } else if (judge != null) {
                Verdict v = verdicts[i];
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
                    c.promptTokens(), c.outputTokens(), c.latencyNanos() / 1e6));
        }
        return records;
    }

    /** The metrics of a record without an answer: every one unparseable (null), counted apart. */
    private static Map<String, Boolean> unanswered(Map<String, Boolean> metrics) {
        Map<String, Boolean> m = new java.util.LinkedHashMap<>();
        metrics.keySet().forEach(k -> m.put(k, null));
        return m;
    }

    private static List<PromptRecord> multipleChoice(LanguageModel model, EvalTask task, List<EvalExample> items) {
        MultipleChoiceScorer scorer = new MultipleChoiceScorer();
        if (task.chatTemplate() && !model.rendersChat()) {
            throw new dev.mergeval.common.BadInputException("task '" + task.name() + "': log-likelihood scoring with"
                    + " chat_template needs the chat template of " + model.id() + ", which its server does not"
                    + " name (GET /models gives no readable model directory); set chat_template: false");
        }
        List<PromptRecord> records = new ArrayList<>(items.size());
        for (EvalExample e : items) {
            // Context is rendered like generation prompts, so chat_template applies to MC tasks too.
            String context = render(model, task, e.prompt());
            List<LogLikelihoodRequest> requests = scorer.requests(context, e);
            long start = System.nanoTime();
            List<LogLikelihood> lls;
            try {
                lls = model.logLikelihood(requests);
            } catch (ModelRequestException failed) {
                Map<String, Boolean> none = new java.util.LinkedHashMap<>();
                scorer.metrics().forEach(m -> none.put(m, null));
                records.add(new PromptRecord(model.id(), task.name(), e.id(), e.category(), context, "", null, null,
                        null, false, ENGINE_ERROR + failed.getMessage(), none, 0, 0,
                        (System.nanoTime() - start) / 1e6));
                continue;
            } catch (dev.mergeval.common.BadInputException bad) {
                throw new dev.mergeval.common.BadInputException("task '" + task.name() + "': " + bad.getMessage(), bad);
            }
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
