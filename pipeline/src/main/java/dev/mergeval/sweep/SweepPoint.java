package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * One point of a sweep: an end point (the aligned model, or one fine-tuned model), the merge of
 * the aligned model with one fine-tune by {@code method} at {@code ratio}, or a post-hoc safety
 * method applied to one fine-tune (role {@code merge}, no ratio).
 *
 * <p>The {@code id} is the first {@value #ID_LENGTH} hex digits of the SHA-256 of the canonical
 * JSON (sorted keys, no spaces) of: the role, the model sources, the exact mergekit config of a merge
 * (method and every resolved parameter, including the weight or {@code t} set by the ratio), the seed,
 * the suite identity and the versions of the models and files it reads. Equal content gives the same
 * id in any run, so a re-run can skip points whose results exist; any change to what would be
 * evaluated gives a new id.
 *
 * @param method     the merge method; null for end points
 * @param finetuned  the fine-tuned model source merged with (or evaluated); null for the aligned point
 * @param ratio      l in [0, 1]: 0 for the aligned point, 1 for a fine-tuned one; null for a post-hoc method
 * @param parameters the grid parameters of this variant (names sorted), empty for end points
 * @param mergeOptions the sweep's settings of every merge's config beside its method's
 *                     ({@code tokenizer_source}, {@code chat_template}; names sorted), empty for end
 *                     points and where the spec sets none (the id then is what it was before they existed)
 * @param inputs     each model source and file parameter the point reads, to the version of its files
 *                   (a sweep's {@code SweepJob} gives them, so that a model written again gives new ids);
 *                   empty where none is given (the id then leaves them out)
 */
public record SweepPoint(@JsonProperty("id") String id,
                         @JsonProperty("role") Role role,
                         @JsonProperty("method") String method,
                         @JsonProperty("aligned") String aligned,
                         @JsonProperty("finetuned") String finetuned,
                         @JsonProperty("ratio") Double ratio,
                         @JsonProperty("parameters") Map<String, Object> parameters,
                         @JsonProperty("seed") long seed,
                         @JsonProperty("suite") String suiteIdentity,
                         @JsonProperty("merge_options") @JsonInclude(JsonInclude.Include.NON_EMPTY)
                         Map<String, String> mergeOptions,
                         @JsonProperty("inputs") @JsonInclude(JsonInclude.Include.NON_EMPTY)
                         Map<String, String> inputs) implements Serializable {

    /** Hex digits kept of the SHA-256: 64 bits, ample for the points of any sweep. */
    public static final int ID_LENGTH = 16;

    /** Checks the parts fit the role and that {@code id} is the one the content gives. */
    public SweepPoint {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(aligned, "aligned");
        Objects.requireNonNull(suiteIdentity, "suite");
        parameters = Collections.unmodifiableMap(new TreeMap<>(parameters == null ? Map.of() : parameters));
        mergeOptions = Collections.unmodifiableMap(new TreeMap<>(mergeOptions == null ? Map.of() : mergeOptions));
        inputs = Collections.unmodifiableMap(new TreeMap<>(inputs == null ? Map.of() : inputs));
        switch (role) {
            case ALIGNED -> require(method == null && finetuned == null && ratio != null && ratio == 0
                            && parameters.isEmpty() && mergeOptions.isEmpty(),
                    "the aligned point has no method, fine-tune, parameters, merge options, and ratio 0");
            case FINETUNED -> require(method == null && finetuned != null && ratio != null && ratio == 1
                            && parameters.isEmpty() && mergeOptions.isEmpty(),
                    "a fine-tuned point names its model, has no method, parameters or merge options, and ratio 1");
            case MERGE -> require(method != null && finetuned != null && (RatioMapping.postHoc(method)
                            ? ratio == null : ratio != null && ratio >= 0 && ratio <= 1),
                    "a merge names its method and fine-tune and has a ratio in [0, 1] (none for a post-hoc method)");
            default -> throw new IllegalStateException(role.name());
        }
        String expected = contentId(role, method, aligned, finetuned, ratio, parameters, mergeOptions, seed,
                suiteIdentity, inputs);
        if (id == null) {
            id = expected;
        } else if (!id.equals(expected)) {
            throw new IllegalArgumentException("point id " + id + " does not match its content (" + expected + ")");
        }
    }

    public static SweepPoint aligned(String aligned, long seed, String suiteIdentity) {
        return new SweepPoint(null, Role.ALIGNED, null, aligned, null, 0.0, Map.of(), seed, suiteIdentity, Map.of(),
                Map.of());
    }

    public static SweepPoint finetuned(String aligned, String finetuned, long seed, String suiteIdentity) {
        return new SweepPoint(null, Role.FINETUNED, null, aligned, finetuned, 1.0, Map.of(), seed, suiteIdentity,
                Map.of(), Map.of());
    }

    public static SweepPoint merge(String method, String aligned, String finetuned, Double ratio,
            Map<String, Object> parameters, long seed, String suiteIdentity) {
        return merge(method, aligned, finetuned, ratio, parameters, seed, suiteIdentity, Map.of());
    }

    /** A merge whose config also carries the sweep's {@code mergeOptions} ({@code tokenizer_source}, {@code chat_template}). */
    public static SweepPoint merge(String method, String aligned, String finetuned, Double ratio,
            Map<String, Object> parameters, long seed, String suiteIdentity, Map<String, String> mergeOptions) {
        return new SweepPoint(null, Role.MERGE, method, aligned, finetuned, ratio, parameters, seed, suiteIdentity,
                mergeOptions, Map.of());
    }

    /**
     * The model sources and files this point reads: the aligned model (but for a fine-tune's end
     * point), the fine-tune, and a merge's file parameters ({@code unaligned_model}, {@code safety_data}).
     */
    @JsonIgnore
    public List<String> inputSources() {
        List<String> sources = new ArrayList<>();
        if (role != Role.FINETUNED) {
            sources.add(aligned);
        }
        if (finetuned != null) {
            sources.add(finetuned);
        }
        if (isMerge()) {
            for (String name : RatioMapping.pathParameters(method)) {
                if (parameters.get(name) instanceof String path) {
                    sources.add(path);
                }
            }
        }
        return sources;
    }

    /** This point with the versions of its {@link #inputSources()} taken from {@code versions} (a new id). */
    public SweepPoint withInputs(Map<String, String> versions) {
        Map<String, String> mine = new TreeMap<>();
        for (String source : inputSources()) {
            if (versions.containsKey(source)) {
                mine.put(source, versions.get(source));
            }
        }
        return new SweepPoint(null, role, method, aligned, finetuned, ratio, parameters, seed, suiteIdentity,
                mergeOptions, mine);
    }

    @JsonIgnore
    public boolean isMerge() {
        return role == Role.MERGE;
    }

    /** A post-hoc safety method's point: a merge without a ratio. */
    @JsonIgnore
    public boolean isPostHoc() {
        return isMerge() && ratio == null;
    }

    /** The one model an end point loads as it is; for a merge, use {@link #toMergekitYaml()}. */
    public String modelSource() {
        return switch (role) {
            case ALIGNED -> aligned;
            case FINETUNED -> finetuned;
            case MERGE -> throw new IllegalStateException("point " + id + " is a merge; it has a mergekit config");
        };
    }

    /**
     * The mergekit YAML of this merge, as {@code dev.mergeval.merge.MergeConfig#parse} reads it (the
     * mapping is {@link RatioMapping}'s). End points have none: see {@link #modelSource()}.
     */
    public String toMergekitYaml() {
        if (!isMerge()) {
            throw new IllegalStateException("point " + id + " is the " + role.json()
                    + " end point; it loads " + modelSource() + " without merging");
        }
        return RatioMapping.yaml(method, aligned, finetuned, ratio, parameters, mergeOptions);
    }

    /**
     * The series this point belongs to in charts: the method with its fixed parameters, e.g.
     * {@code ties density=0.5}; the role for end points. A post-hoc method's knob and the models and
     * files it reads are left out, as a ratio is.
     */
    public String variant() {
        if (!isMerge()) {
            return role.json();
        }
        StringBuilder b = new StringBuilder(method);
        List<String> hidden = new ArrayList<>(RatioMapping.pathParameters(method));
        if (isPostHoc()) {
            hidden.addAll(RatioMapping.knobs(method));
        }
        parameters.forEach((k, v) -> {
            if (!hidden.contains(k)) {
                b.append(' ').append(k).append('=').append(format(v));
            }
        });
        return b.toString();
    }

    /**
     * A short human label: the variant and, for merges, the ratio or the post-hoc knob's value; a
     * fine-tune's end point names its model, as a sweep may have several.
     */
    public String label() {
        if (role == Role.FINETUNED) {
            return variant() + " (" + finetuned + ")";
        }
        if (isPostHoc()) {
            StringBuilder knob = new StringBuilder();
            for (String k : RatioMapping.knobs(method)) {
                if (parameters.containsKey(k)) {
                    knob.append(knob.length() == 0 ? "" : ", ").append(k).append('=').append(format(parameters.get(k)));
                }
            }
            return knob.length() == 0 ? variant() : variant() + " @ " + knob;
        }
        return isMerge() ? variant() + " @ " + format(ratio) : variant();
    }

    static String format(Object v) {
        if (v instanceof Double d) {
            return d == Math.rint(d) && Math.abs(d) < 1e15 ? String.format(Locale.ROOT, "%.1f", d)
                    : Double.toString(d);
        }
        return String.valueOf(v);
    }

    private static String contentId(Role role, String method, String aligned, String finetuned, Double ratio,
            Map<String, Object> parameters, Map<String, String> mergeOptions, long seed, String suite,
            Map<String, String> inputs) {
        Map<String, Object> content = new TreeMap<>();
        content.put("role", role.json());
        Map<String, Object> models = new TreeMap<>();
        if (role != Role.FINETUNED) {
            models.put("aligned", aligned);
        }
        if (finetuned != null) {
            models.put("finetuned", finetuned);
        }
        content.put("models", models);
        if (role == Role.MERGE) {
            content.put("merge", RatioMapping.config(method, aligned, finetuned, ratio, parameters, mergeOptions));
        }
        content.put("seed", seed);
        content.put("suite", suite);
        if (!inputs.isEmpty()) {
            content.put("inputs", inputs);
        }
        return Canonical.sha256(Canonical.json(content)).substring(0, ID_LENGTH);
    }

    private static void require(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException(what);
        }
    }
}
