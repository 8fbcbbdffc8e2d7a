package dev.mergeval.jobs.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectWriter;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.EvalTask;
import dev.mergeval.eval.JudgeRun;
import dev.mergeval.eval.PromptRecord;
import dev.mergeval.eval.datasets.Dataset;
import dev.mergeval.eval.datasets.Datasets;
import dev.mergeval.eval.judges.JudgeSpec;
import dev.mergeval.eval.scorers.ExactMatchScorer;
import dev.mergeval.eval.scorers.Gsm8kScorer;
import dev.mergeval.eval.scorers.MultipleChoiceScorer;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.merge.methods.SpfProjectMerge;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import dev.mergeval.sweep.MethodGrid;
import dev.mergeval.sweep.MetricRoles;
import dev.mergeval.sweep.SuiteRef;
import dev.mergeval.sweep.SweepPoint;
import dev.mergeval.sweep.SweepSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;

/**
 * What commands check on the driver before they start work, and before any Spark session exists:
 * bad input then fails in one line naming the file, key or line, instead of in every Spark task or
 * after an hour of sweeping. Model sources are checked by their headers and config
 * ({@link ModelSources#check}), never by loading weights; dataset files are read whole (they are
 * small next to a model) so that a bad row anywhere is found.
 *
 * <p>Relative paths resolve against the working directory for command-line arguments and against
 * the file for paths written in a suite or spec; they are made absolute here, so that executors
 * with another working directory read the same files.
 */
final class InputChecks {

    private static final ObjectWriter YAML = Mappers.QUOTED_YAML;

    private InputChecks() {
    }

    /** A command-line path, against the working directory. */
    static String path(String arg) {
        return resolve(Path.of("").toAbsolutePath(), arg);
    }

    /** {@code p} against {@code base}; absolute paths and URIs as given. */
    static String resolve(Path base, String p) {
        if (p.isEmpty() || HadoopFs.hasScheme(p) || p.startsWith("/")) {
            return p;
        }
        return base.resolve(p).normalize().toString();
    }

    /**
     * A model source's text with its paths resolved against {@code base} ({@link ModelSource#resolvePaths}):
     * a directory, {@code BASE+ADAPTER} (each part), or {@code merge:CONFIG.yaml[#seed=N]} (the config
     * file; the paths inside it stay as written, as {@code mergeval merge} reads them).
     */
    static String modelSource(Path base, String source) {
        return ModelSource.resolvePaths(source, p -> resolve(base, p));
    }

    /** An option's value must be at least {@code min}. */
    static void atLeast(String option, long value, long min) {
        if (value < min) {
            throw new BadInputException(option + " must be >= " + min + ", got " + value);
        }
    }

    /** {@code --device}: {@code cpu} or {@code cuda:N}. */
    static void device(String device) {
        try {
            new RuntimeOptions(device, 0, 1);
        } catch (BadInputException e) {
            throw new BadInputException("--device: " + e.getMessage(), e);
        }
    }

    /**
     * Every source parsed ({@link ModelSource#parse}: a merge's config read and validated) and
     * checked to load as {@link ModelSources#load} would, weights aside, one after the other.
     *
     * @return the parsed sources, in order
     */
    static List<ModelSource> models(List<String> sources) {
        Configuration conf = HadoopFs.defaults();
        List<ModelSource> parsed = new ArrayList<>();
        for (String source : sources) {
            ModelSource model = ModelSource.parse(source, conf);
            ModelSources.check(model, conf);
            parsed.add(model);
        }
        return parsed;
    }

    /** A suite file: parsed, every dataset readable with at least one valid row, judge models checked. */
    static EvalSuite suite(String path) {
        EvalSuite suite = EvalSuite.read(path);
        suiteInputs(suite, path);
        return suite;
    }

    /** The datasets and judge models a suite names. */
    static void suiteInputs(EvalSuite suite, String source) {
        for (EvalTask task : suite.tasks()) {
            Dataset d = Datasets.load(task.dataset());
            if (d.size() == 0) {
                throw new BadInputException(task.dataset().path() + ": no rows (dataset of task '" + task.name()
                        + "' in " + source + ")");
            }
            if (task.judge() != null && task.judge().needsModel()) {
                try {
                    if (task.judge().servedEngine() != null) {
                        ModelSources.check(new ModelSource.Served(task.judge().servedEngine().requireServer(null)),
                                HadoopFs.defaults());
                    } else {
                        models(List.of(task.judge().modelSource()));
                    }
                } catch (BadInputException e) {
                    throw new BadInputException(source + ": task '" + task.name() + "': judge model: " + e.getMessage(), e);
                }
            }
        }
    }

    /** The input of {@code mergeval judge}: readable, at least one row, the required columns. */
    static void judgeInput(String input) {
        JudgeRun.read(input);
    }

    /** A judge named on the command line. */
    static JudgeSpec judge(String spec) {
        try {
            return JudgeSpec.parse(spec);
        } catch (BadInputException e) {
            throw new BadInputException("--judge: " + e.getMessage(), e);
        }
    }

    /**
     * A sweep spec file, with its relative paths (models, suite, and the dataset paths of an inline
     * suite) resolved against the file's directory, and every input it names checked.
     */
    static SweepSpec sweep(Path file) {
        Path spec = file.toAbsolutePath().normalize();
        SweepSpec s = resolve(SweepSpec.load(spec), spec.getParent());
        sweepInputs(s, file.toString());
        return s;
    }

    /** The spec with its paths made absolute against {@code base}. */
    static SweepSpec resolve(SweepSpec spec, Path base) {
        List<String> tuned = spec.finetuned().stream().map(f -> modelSource(base, f)).toList();
        SuiteRef suite = spec.suite().path() != null
                ? SuiteRef.ofPath(resolve(base, spec.suite().path()))
                : SuiteRef.ofInline(resolveInline(spec.suite().inline(), base));
        List<MethodGrid> grid = new ArrayList<>();
        for (MethodGrid g : spec.grid()) {
            Map<String, List<Object>> params = new TreeMap<>(g.parameters());
            for (String name : g.pathParameters()) {
                List<Object> values = params.get(name);
                if (values != null) {
                    params.put(name, values.stream().map(v -> (Object) (v instanceof String path
                            ? modelSource(base, path) : v)).toList());
                }
            }
            grid.add(new MethodGrid(g.method(), g.ratios(), params,
                    g.finetuned() == null ? null : g.finetuned().stream().map(f -> modelSource(base, f)).toList()));
        }
        return new SweepSpec(spec.name(), modelSource(base, spec.aligned()), tuned, grid, suite,
                spec.metrics(), spec.select(), spec.goal(), spec.materialize(), spec.seed(),
                spec.referenceFinetuned() == null ? null : modelSource(base, spec.referenceFinetuned()),
                spec.loraAdapters(), spec.engine(), tokenizerSource(base, spec.tokenizerSource()), spec.chatTemplate());
    }

    /** A {@code tokenizer_source} that names a model ({@code model:PATH} or {@code PATH}) with the path resolved. */
    private static String tokenizerSource(Path base, String source) {
        if (source == null || source.equals("base") || source.equals("union")) {
            return source;
        }
        String prefix = source.startsWith("model:") ? "model:" : "";
        return prefix + resolve(base, source.substring(prefix.length()));
    }

    /** The models, the suite, its datasets, and that the metric roles name metrics the suite measures. */
    static void sweepInputs(SweepSpec spec, String source) {
        List<String> models = new ArrayList<>();
        models.add(spec.aligned());
        models.addAll(spec.finetuned());
        for (int i = 0; i < models.size(); i++) {
            try {
                models(List.of(models.get(i)));
            } catch (BadInputException e) {
                throw new BadInputException(source + ": " + (i == 0 ? "aligned" : "finetuned[" + (i - 1) + "]") + ": "
                        + e.getMessage(), e);
            }
        }
        gridInputs(spec, source);
        EvalSuite suite;
        String suiteName;
        if (spec.suite().path() != null) {
            suiteName = spec.suite().path();
            suite = EvalSuite.read(suiteName);
        } else {
            suiteName = source + ": suite";
            try {
                suite = EvalSuite.parse(YAML.writeValueAsString(spec.suite().inline()), suiteName, null);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot write the inline suite back as YAML", e);
            }
        }
        suiteInputs(suite, suiteName);
        if (suite.engine().isOpenAi()) {
            throw new BadInputException(suiteName + ": engine: a sweep's points run where the spec's own engine block"
                    + " says (engine: {kind: openai, launch: ...}); remove the suite's engine block");
        }
        MetricRoles roles = spec.metrics();
        metric(suite, source, "metrics.safety", roles.safety());
        metric(suite, source, "metrics.task", roles.task());
        if (roles.overRefusal() != null) {
            metric(suite, source, "metrics.over_refusal", roles.overRefusal());
        }
    }

    /**
     * The models and files that grid entries name in their parameters (a post-hoc method's
     * {@code unaligned_model} or {@code safety_data}), checked as the merge of each fine-tune with them
     * would check them, once per fine-tune and set of inputs, so that a bad one fails here and not at
     * its first point, after the end points have been evaluated.
     */
    private static void gridInputs(SweepSpec spec, String source) {
        Configuration conf = HadoopFs.defaults();
        mergeOptionInputs(spec, source, conf);
        for (int i = 0; i < spec.grid().size(); i++) {
            MethodGrid g = spec.grid().get(i);
            Set<String> checked = new HashSet<>();
            for (String ft : spec.finetuned()) {
                if (g.pathParameters().isEmpty() || !g.appliesTo(ft)) {
                    continue;
                }
                for (Map<String, Object> variant : g.variants()) {
                    Map<String, Object> inputs = new TreeMap<>(variant);
                    inputs.keySet().retainAll(g.pathParameters());
                    if (checked.add(ft + " " + inputs)) {
                        SweepPoint p = SweepPoint.merge(g.method(), spec.aligned(), ft, g.ratioValues().get(0),
                                variant, spec.seed(), "inputs");
                        ModelSources.check(MergeConfig.parse(p.toMergekitYaml(), source + ": grid[" + i + "]"),
                                conf);
                    }
                }
            }
            if (g.method().equals("spf_project")) {
                spfRanks(spec, g, source + ": grid[" + i + "].parameters.rank", conf);
            }
        }
    }

    /**
     * Each {@code rank} of an {@code spf_project} entry against the aligned model's projection
     * matrices, from its headers: the method's analysis would find a rank above a matrix's own only
     * at the entry's first point, after the end points were evaluated, naming the merge config the
     * sweep generated rather than the spec.
     */
    private static void spfRanks(SweepSpec spec, MethodGrid g, String key, Configuration conf) {
        try (Checkpoint aligned = Checkpoint.open(spec.aligned(), conf)) {
            for (Object rank : g.parameters().getOrDefault("rank", List.of())) {
                String problem = rank instanceof Number n
                        ? SpfProjectMerge.rankProblem(n.intValue(), aligned.tensorNames(), t -> aligned.info(t).shape())
                        : null;
                if (problem != null) {
                    throw new BadInputException(key + ": " + problem);
                }
            }
        }
    }

    /**
     * The spec's {@code tokenizer_source} and {@code chat_template}, checked on the first merge point
     * of each fine-tune as its merge-on-load would apply them (the named tokenizer read, the union
     * built, every model's rows found), so that a bad one fails before the end points are evaluated.
     */
    private static void mergeOptionInputs(SweepSpec spec, String source, Configuration conf) {
        if (spec.mergeOptions().isEmpty()) {
            return;
        }
        Set<String> checked = new HashSet<>();
        for (SweepPoint p : spec.points()) {
            if (p.isMerge() && checked.add(p.finetuned())) {
                ModelSources.check(MergeConfig.parse(p.toMergekitYaml(), source), conf);
            }
        }
    }

    private static void metric(EvalSuite suite, String source, String key, String name) {
        int slash = name.lastIndexOf('/');
        String taskName = slash < 0 ? name : name.substring(0, slash);
        EvalTask task = suite.tasks().stream().filter(t -> t.name().equals(taskName)).findFirst().orElse(null);
        if (slash < 0 || task == null) {
            throw new BadInputException(source + ": " + key + ": '" + name + "' is not TASK/METRIC of a suite task"
                    + " (tasks: " + suite.tasks().stream().map(EvalTask::name).toList() + ")");
        }
        List<String> measured = metricsOf(task);
        if (!measured.contains(name.substring(slash + 1))) {
            throw new BadInputException(source + ": " + key + ": task '" + taskName + "' measures " + measured
                    + ", not '" + name.substring(slash + 1) + "'");
        }
    }

    /** The overall metrics a task's records produce. */
    private static List<String> metricsOf(EvalTask task) {
        if (task.judge() != null) {
            return task.judge().needsModel() ? List.of(PromptRecord.REFUSAL_RATE, PromptRecord.ASR)
                    : List.of(PromptRecord.REFUSAL_RATE);
        }
        return switch (task.scorer()) {
            case EvalTask.GSM8K -> new Gsm8kScorer().metrics();
            case EvalTask.MULTIPLE_CHOICE -> new MultipleChoiceScorer().metrics();
            default -> new ExactMatchScorer().metrics();
        };
    }

    /** An inline suite with the dataset paths of its defaults and tasks resolved against {@code base}. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> resolveInline(Map<String, Object> suite, Path base) {
        Map<String, Object> out = new LinkedHashMap<>(suite);
        if (out.get("defaults") instanceof Map<?, ?> defaults) {
            out.put("defaults", resolveDataset((Map<String, Object>) defaults, base));
        }
        if (out.get("tasks") instanceof List<?> tasks) {
            out.put("tasks", tasks.stream()
                    .map(t -> t instanceof Map<?, ?> m ? resolveDataset((Map<String, Object>) m, base) : t).toList());
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> resolveDataset(Map<String, Object> task, Path base) {
        if (!(task.get("dataset") instanceof Map<?, ?> ds)) {
            return task;
        }
        Map<String, Object> dataset = new LinkedHashMap<>((Map<String, Object>) ds);
        for (String key : List.of("path", "few_shot_path")) {
            if (dataset.get(key) instanceof String p) {
                dataset.put(key, resolve(base, p));
            }
        }
        Map<String, Object> out = new LinkedHashMap<>(task);
        out.put("dataset", dataset);
        return out;
    }
}
