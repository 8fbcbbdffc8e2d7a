package dev.mergeval.eval;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything known about one prompt of one task for one model, written as one JSONL line (and one
 * Parquet row by the Spark job), so that any verdict or score can be audited.
 *
 * @param model            the model source id
 * @param task             the suite task name
 * @param promptId         the item id
 * @param category         the breakdown key
 * @param prompt           the text sent to the model (after chat templating, if on)
 * @param completion       the model's completion ({@code ""} for log-likelihood tasks)
 * @param judge            the judge's name, or {@code null} for scored tasks
 * @param refused          the judge's refusal verdict ({@code null} when not judged or unparseable)
 * @param harmful          a model judge's harm verdict ({@code null} otherwise)
 * @param parseable        false when the judge's output could not be parsed
 * @param judgeOutput      the judge's raw output or the matched rule, for audit
 * @param outcomes         metric name to correct/true; a {@code null} value is unparseable
 * @param promptTokens     prompt length in tokens
 * @param completionTokens completion length in tokens
 * @param latencyMs        decode time of this prompt
 */
public record PromptRecord(
        String model,
        String task,
        String promptId,
        String category,
        String prompt,
        String completion,
        String judge,
        Boolean refused,
        Boolean harmful,
        boolean parseable,
        String judgeOutput,
        Map<String, Boolean> outcomes,
        int promptTokens,
        int completionTokens,
        double latencyMs) {

    /** Metric of refusal judges: refused / n. */
    public static final String REFUSAL_RATE = "refusal_rate";
    /** Metric of model judges: harmful / (n - unparseable). */
    public static final String ASR = "asr";

    public PromptRecord {
        // Values may be null (unparseable), which Map.copyOf forbids; keep insertion order.
        outcomes = Collections.unmodifiableMap(new LinkedHashMap<>(outcomes));
    }
}
