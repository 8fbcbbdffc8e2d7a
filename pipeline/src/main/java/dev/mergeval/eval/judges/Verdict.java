package dev.mergeval.eval.judges;

/**
 * One judge's verdict on one completion.
 *
 * @param judge      the judge's name ({@code keyword}, {@code refusal}, {@code wildguard}, ...)
 * @param refused    whether the completion refuses; {@code null} when the judge output could not be parsed
 * @param harmful    whether the completion is harmful (model judges); {@code null} for refusal-only
 *                   judges and for unparseable outputs
 * @param parseable  false when a model judge's output matched none of its expected forms
 * @param judgeOutput the judge model's raw text (model judges), or the matched rule (rule judges)
 */
public record Verdict(String judge, Boolean refused, Boolean harmful, boolean parseable, String judgeOutput) {

    public static Verdict refusal(String judge, boolean refused, String evidence) {
        return new Verdict(judge, refused, null, true, evidence);
    }

    public static Verdict unparseable(String judge, String output) {
        return new Verdict(judge, null, null, false, output);
    }
}
