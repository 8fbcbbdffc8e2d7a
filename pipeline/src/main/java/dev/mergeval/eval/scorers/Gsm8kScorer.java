package dev.mergeval.eval.scorers;

import dev.mergeval.common.BadInputException;
import dev.mergeval.eval.datasets.EvalExample;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GSM8K as lm-evaluation-harness scores it ({@code lm_eval/tasks/gsm8k/gsm8k.yaml}, version 3):
 * <ul>
 *   <li>{@code strict-match}: filter {@code regex} with {@code "#### (\-?[0-9\.\,]+)"}, first match
 *       ({@code take_first}); </li>
 *   <li>{@code flexible-extract}: filter {@code regex} with {@code "(-?[$0-9.,]{2,})|(-?[0-9]+)"},
 *       {@code group_select: -1} (the last match; of its groups the first non-empty one);</li>
 *   <li>no match gives the harness's fallback {@code "[invalid]"}; a match is stripped;</li>
 *   <li>metric {@code exact_match} with {@code ignore_case: true}, {@code ignore_punctuation: false}
 *       and {@code regexes_to_ignore: [",", "\$", "(?s).*#### ", "\.$"]}, applied in that order to
 *       both the extracted answer and the reference (the whole gold solution), then lower-cased.</li>
 * </ul>
 */
public final class Gsm8kScorer implements GenerationScorer {

    public static final String STRICT = "strict-match";
    public static final String FLEXIBLE = "flexible-extract";
    static final String FALLBACK = "[invalid]";

    private static final Pattern STRICT_PATTERN = Pattern.compile("#### (\\-?[0-9\\.\\,]+)");
    private static final Pattern FLEXIBLE_PATTERN = Pattern.compile("(-?[$0-9.,]{2,})|(-?[0-9]+)");
    private static final List<Pattern> IGNORE = List.of(
            Pattern.compile(","), Pattern.compile("\\$"), Pattern.compile("(?s).*#### "), Pattern.compile("\\.$"));

    @Override
    public List<String> metrics() {
        return List.of(STRICT, FLEXIBLE);
    }

    @Override
    public Map<String, Boolean> score(EvalExample example, String completion) {
        if (example.answer() == null) {
            throw new BadInputException("gsm8k item " + example.id() + " has no answer");
        }
        String reference = normalise(example.answer());
        Map<String, Boolean> out = new LinkedHashMap<>();
        out.put(STRICT, normalise(extractStrict(completion)).equals(reference));
        out.put(FLEXIBLE, normalise(extractFlexible(completion)).equals(reference));
        return out;
    }

    /** The first {@code #### N} number, or {@code [invalid]}. */
    public static String extractStrict(String text) {
        Matcher m = STRICT_PATTERN.matcher(text);
        return m.find() ? m.group(1).strip() : FALLBACK;
    }

    /** The last number-like run (first non-empty group of the last match), or {@code [invalid]}. */
    public static String extractFlexible(String text) {
        Matcher m = FLEXIBLE_PATTERN.matcher(text);
        List<String> last = null;
        while (m.find()) {
            last = new ArrayList<>();
            for (int g = 1; g <= m.groupCount(); g++) {
                last.add(m.group(g));
            }
        }
        if (last == null) {
            return FALLBACK;
        }
        for (String g : last) {
            if (g != null && !g.isEmpty()) {
                return g.strip();
            }
        }
        return FALLBACK;
    }

    /** The exact-match normalisation: the ignore regexes removed in order, then lower case. */
    public static String normalise(String s) {
        String out = s;
        for (Pattern p : IGNORE) {
            out = p.matcher(out).replaceAll("");
        }
        return out.toLowerCase(Locale.ROOT);
    }
}
