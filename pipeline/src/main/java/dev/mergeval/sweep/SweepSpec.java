package dev.mergeval.sweep;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.YamlReader;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Mappers;
import dev.mergeval.engine.EngineSpec;
import dev.mergeval.merge.ChatTemplates;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A sweep, as the user writes it in YAML:
 * <pre>
 * name: toy-demo                      # optional, titles the report
 * aligned: models/toy/aligned         # the pre-fine-tuning (aligned) model
 * finetuned:                          # one or more post-fine-tuning models (or a single string)
 *   - models/toy/finetuned            # a model dir/URI, or BASE+ADAPTER for a LoRA adapter
 * grid:
 *   - method: linear
 *     ratios: {from: 0, to: 1, step: 0.1}
 *   - method: ties
 *     ratios: [0.2, 0.5, 0.8]
 *     parameters: {density: [0.3, 0.7]}
 * suite: suites/toy.yaml              # path to a suite YAML, or the suite inline as a mapping
 * metrics: {safety: harmful/refusal, over_refusal: borderline/refusal, task: task/exact_match}
 * select: {rule: max_task_within_refusal_tolerance, tolerance: 0.05}
 * goal: {min_refusal_retention: 0.9, min_task_gain_retention: 0.8}
 * materialize: chosen                 # none | chosen | all
 * seed: 1234
 * reference_finetuned: models/toy/finetuned   # optional, see below
 * lora_adapters: {max_rank: 64}       # optional: the linear points as PEFT adapters ({@link LoraAdapters})
 * tokenizer_source: union             # optional: set in every merge point's config, as mergekit reads it
 * chat_template: chatml               # optional: likewise
 * </pre>
 * A grid entry may name the fine-tunes it applies to ({@code finetuned:}, default all), and the
 * post-hoc safety methods take no ratios ({@link MethodGrid}). {@code reference_finetuned}, when set,
 * is the fine-tune whose task gain every point's task-gain retention is measured against (for
 * fine-tunes that are variants of one, such as an SPF fine-tune beside the plain one); by default each
 * point is measured against its own fine-tune.
 * {@code mergeval sweep} resolves relative model and suite paths (and an inline suite's dataset
 * paths) against the spec file's directory. Each fine-tune is swept against the aligned model on its
 * own; the aligned model and every fine-tune are always end points of the grid ({@link #points()}).
 */
public record SweepSpec(@JsonProperty("name") String name,
                        @JsonProperty("aligned") String aligned,
                        @JsonProperty("finetuned") List<String> finetuned,
                        @JsonProperty("grid") List<MethodGrid> grid,
                        @JsonProperty("suite") SuiteRef suite,
                        @JsonProperty("metrics") MetricRoles metrics,
                        @JsonProperty("select") SelectRule select,
                        @JsonProperty("goal") Goal goal,
                        @JsonProperty("materialize") Materialize materialize,
                        @JsonProperty("seed") Long seed,
                        @JsonProperty("reference_finetuned") @JsonInclude(JsonInclude.Include.NON_NULL)
                        String referenceFinetuned,
                        @JsonProperty("lora_adapters") @JsonInclude(JsonInclude.Include.NON_NULL)
                        LoraAdapters loraAdapters,
                        @JsonProperty("engine") @JsonInclude(JsonInclude.Include.NON_NULL)
                        EngineSpec.Yaml engine,
                        @JsonProperty("tokenizer_source") @JsonInclude(JsonInclude.Include.NON_NULL)
                        String tokenizerSource,
                        @JsonProperty("chat_template") @JsonInclude(JsonInclude.Include.NON_NULL)
                        String chatTemplate) {

    public static final String DEFAULT_NAME = "sweep";

    private static final ObjectMapper YAML = Mappers.yaml()
            .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build();

    public SweepSpec {
        if (name == null) {
            name = DEFAULT_NAME;
        }
        if (name.isBlank()) {
            throw new BadInputException("name: must not be empty");
        }
        checkSource(aligned, "aligned");
        if (finetuned == null || finetuned.isEmpty()) {
            throw new BadInputException("finetuned: required: one or more post-fine-tuning models");
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < finetuned.size(); i++) {
            String key = "finetuned[" + i + "]";
            checkSource(finetuned.get(i), key);
            if (finetuned.get(i).equals(aligned)) {
                throw new BadInputException(key + ": is the aligned model itself");
            }
            if (!seen.add(finetuned.get(i))) {
                throw new BadInputException(key + ": '" + finetuned.get(i) + "' is listed twice");
            }
        }
        finetuned = List.copyOf(finetuned);
        if (grid == null || grid.isEmpty()) {
            throw new BadInputException("grid: required: at least one method with its ratios");
        }
        for (int i = 0; i < grid.size(); i++) {
            if (grid.get(i) == null) {
                throw new BadInputException("grid[" + i + "]: empty entry");
            }
            List<String> only = grid.get(i).finetuned() == null ? List.of() : grid.get(i).finetuned();
            for (int j = 0; j < only.size(); j++) {
                if (!finetuned.contains(only.get(j))) {
                    throw new BadInputException("grid[" + i + "].finetuned[" + j + "]: '" + only.get(j)
                            + "' is not one of the spec's finetuned models " + finetuned);
                }
            }
        }
        if (referenceFinetuned != null && !finetuned.contains(referenceFinetuned)) {
            throw new BadInputException("reference_finetuned: '" + referenceFinetuned
                    + "' is not one of the spec's finetuned models " + finetuned);
        }
        grid = List.copyOf(grid);
        if (suite == null) {
            throw new BadInputException("suite: required: a path to a suite YAML or the suite inline");
        }
        if (metrics == null) {
            throw new BadInputException("metrics: required: which metrics are safety, over_refusal and task");
        }
        if (select == null) {
            select = SelectRule.defaults();
        }
        if (goal == null) {
            goal = Goal.defaults();
        }
        if (materialize == null) {
            materialize = Materialize.CHOSEN;
        }
        if (seed == null) {
            seed = KeyedRandom.DEFAULT_SEED;
        }
        if (tokenizerSource != null && tokenizerSource.isBlank()) {
            throw new BadInputException("tokenizer_source: must be base, union or a model (model:PATH or PATH)");
        }
        if (chatTemplate != null && ChatTemplates.problem(chatTemplate) != null) {
            throw new BadInputException("chat_template: " + ChatTemplates.problem(chatTemplate));
        }
        if (loraAdapters != null && (tokenizerSource != null || chatTemplate != null)) {
            throw new BadInputException("lora_adapters: not with " + (tokenizerSource != null ? "tokenizer_source"
                    : "chat_template") + ": the adapters are served with the aligned model's tokenizer and chat"
                    + " template, which the merged points would not have");
        }
        if (engine != null) {
            EngineSpec e = EngineSpec.of(engine, "engine");
            if (e.isOpenAi() && e.launch() == null) {
                throw new BadInputException("engine.launch: required with kind openai in a sweep: each point is served"
                        + " with its own weights, by a server the sweep starts (base_url cannot serve them all)");
            }
        }
    }

    /**
     * Where the points run: in the JVM, or on a server the sweep launches per point
     * ({@code engine: {kind: openai, launch: "vllm serve {model} --port {port}"}}).
     */
    public EngineSpec engineSpec() {
        return engine == null ? EngineSpec.DJL_ENGINE : EngineSpec.of(engine, "engine");
    }

    /** A spec without {@code lora_adapters}, {@code engine} or merge settings. */
    public SweepSpec(String name, String aligned, List<String> finetuned, List<MethodGrid> grid, SuiteRef suite,
            MetricRoles metrics, SelectRule select, Goal goal, Materialize materialize, Long seed,
            String referenceFinetuned) {
        this(name, aligned, finetuned, grid, suite, metrics, select, goal, materialize, seed, referenceFinetuned, null,
                null, null, null);
    }

    /**
     * What every merge point's config sets beside its method ({@code tokenizer_source},
     * {@code chat_template}), as mergekit reads them; empty where the spec sets neither.
     */
    @JsonIgnore
    public Map<String, String> mergeOptions() {
        Map<String, String> options = new TreeMap<>();
        if (tokenizerSource != null) {
            options.put("tokenizer_source", tokenizerSource);
        }
        if (chatTemplate != null) {
            options.put("chat_template", chatTemplate);
        }
        return options;
    }

    /** Parses and validates a spec; errors are one line, {@code sourceName: key: problem}. */
    public static SweepSpec parse(String yaml, String sourceName) {
        try {
            SweepSpec spec = YamlReader.readValue(YAML, yaml, SweepSpec.class);
            if (spec == null) {
                throw new BadInputException(sourceName + ": the spec is empty");
            }
            spec.points();
            return spec;
        } catch (JsonMappingException e) {
            if (e.getCause() instanceof JsonParseException syntax) {
                String line = syntax.getLocation() == null ? "" : ":" + syntax.getLocation().getLineNr();
                throw new BadInputException(sourceName + line + ": invalid YAML: " + Mappers.oneLine(syntax.getOriginalMessage()), e);
            }
            throw new BadInputException(sourceName + ": " + describe(e), e);
        } catch (JsonProcessingException e) {
            throw new BadInputException(sourceName + ": invalid YAML: " + Mappers.oneLine(e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + sourceName, e);
        } catch (BadInputException e) {
            throw e.getMessage().startsWith(sourceName + ": ") ? e
                    : new BadInputException(sourceName + ": " + e.getMessage(), e);
        }
    }

    /** Reads and parses a spec file. */
    public static SweepSpec load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BadInputException(file + ": file not found", e);
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        return parse(text, file.toString());
    }

    /** {@link #points(String, Map)} with the suite's own {@link SuiteRef#identity()} and no input versions. */
    public List<SweepPoint> points() {
        return points(suite.identity(), Map.of());
    }

    /**
     * Every point, in a fixed order: the aligned model; then for each fine-tune in the order given,
     * its end point and then, per grid entry that applies to it, per parameter variant ({@link MethodGrid#variants()})
     * and per ratio in the order given, the merge. Two grid entries that produce the same point are
     * refused.
     *
     * @param suiteIdentity what identifies the suite in ids; pass a hash of the suite file's content
     *                      to make edits of it invalidate finished points
     * @param inputVersions each model source and file parameter to the version of its files
     *                      ({@link SweepPoint#withInputs}), so that a model written again invalidates
     *                      the points that read it; empty to leave versions out of the ids
     */
    public List<SweepPoint> points(String suiteIdentity, Map<String, String> inputVersions) {
        List<SweepPoint> out = new ArrayList<>();
        Map<String, String> where = new HashMap<>();
        add(out, where, SweepPoint.aligned(aligned, seed, suiteIdentity).withInputs(inputVersions), "aligned");
        for (int f = 0; f < finetuned.size(); f++) {
            String ft = finetuned.get(f);
            add(out, where, SweepPoint.finetuned(aligned, ft, seed, suiteIdentity).withInputs(inputVersions),
                    "finetuned[" + f + "]");
            for (int g = 0; g < grid.size(); g++) {
                MethodGrid entry = grid.get(g);
                if (!entry.appliesTo(ft)) {
                    continue;
                }
                for (Map<String, Object> variant : entry.variants()) {
                    for (Double ratio : entry.ratioValues()) {
                        add(out, where, SweepPoint.merge(entry.method(), aligned, ft, ratio, variant, seed,
                                suiteIdentity, mergeOptions()).withInputs(inputVersions), "grid[" + g + "]");
                    }
                }
            }
        }
        return List.copyOf(out);
    }

    /**
     * The results in this spec's point order ({@link #points(String, Map)}, expanded with the suite
     * identity and input versions the results carry); results of points the spec does not have come last, by id. Every
     * output lists points, and groups them by method, in this one order, whatever order the results
     * arrived in.
     */
    public List<PointResult> inPointOrder(List<PointResult> results) {
        Map<String, Integer> rank = new HashMap<>();
        Map<String, String> versions = new HashMap<>();
        results.forEach(r -> versions.putAll(r.point().inputs()));
        List<SweepPoint> points = results.isEmpty() ? List.of()
                : points(results.get(0).point().suiteIdentity(), versions);
        for (int i = 0; i < points.size(); i++) {
            rank.put(points.get(i).id(), i);
        }
        List<PointResult> out = new ArrayList<>(results);
        out.sort(Comparator.<PointResult>comparingInt(r -> rank.getOrDefault(r.point().id(), Integer.MAX_VALUE))
                .thenComparing(r -> r.point().id()));
        return out;
    }

    /** The aligned model's point. */
    public SweepPoint alignedPoint() {
        return SweepPoint.aligned(aligned, seed, suite.identity());
    }

    /** SHA-256 (hex) of the spec's canonical JSON: equal specs, however written, hash equal. */
    public String hash() {
        return Canonical.sha256(Canonical.json(this));
    }

    /** The fine-tune whose task gain a point derived from {@code finetuned} is measured against. */
    public String gainReference(String finetuned) {
        return referenceFinetuned != null ? referenceFinetuned : finetuned;
    }

    private static void add(List<SweepPoint> out, Map<String, String> where, SweepPoint p, String origin) {
        String first = where.putIfAbsent(p.id(), origin);
        if (first != null) {
            throw new BadInputException(origin + ": point " + p.label() + " repeats one of " + first);
        }
        out.add(p);
    }

    private static void checkSource(String source, String key) {
        if (source == null || source.isBlank()) {
            throw new BadInputException(key + ": required: a model directory, URI or BASE+ADAPTER");
        }
        int plus = source.indexOf('+');
        if (plus >= 0 && (source.substring(0, plus).isBlank() || source.substring(plus + 1).isBlank())) {
            throw new BadInputException(key + ": '" + source + "' must be BASE+ADAPTER with both parts");
        }
    }

    /** The key path of a mapping error, with the record's own message where it threw one. */
    private static String describe(JsonMappingException e) {
        List<JsonMappingException.Reference> refs = e.getPath();
        Throwable cause = e instanceof ValueInstantiationException ? e.getCause() : null;
        if (cause instanceof BadInputException && !refs.isEmpty()) {
            // A value built from one field (ratios, suite) names that field itself: drop it from the path.
            String last = refs.get(refs.size() - 1).getFieldName();
            String msg = cause.getMessage();
            if (last != null && (msg.startsWith(last + ":") || msg.startsWith(last + ".")
                    || msg.startsWith(last + "["))) {
                refs = refs.subList(0, refs.size() - 1);
            }
        }
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference r : refs) {
            if (r.getFieldName() != null) {
                path.append(path.length() == 0 ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                path.append('[').append(r.getIndex()).append(']');
            }
        }
        if (cause instanceof BadInputException) {
            return (path.length() == 0 ? "" : path + ".") + cause.getMessage();
        }
        if (e instanceof UnrecognizedPropertyException u) {
            return path + ": unknown key (known: " + u.getKnownPropertyIds() + ")";
        }
        return (path.length() == 0 ? "" : path + ": ") + Mappers.oneLine(Mappers.problem(e));
    }
}
