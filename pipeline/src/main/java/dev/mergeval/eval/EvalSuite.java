package dev.mergeval.eval;

import dev.mergeval.common.KeyedRandom;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.YamlReader;
import dev.mergeval.common.Mappers;
import dev.mergeval.engine.EngineSpec;
import dev.mergeval.eval.datasets.DatasetKind;
import dev.mergeval.eval.datasets.DatasetSpec;
import dev.mergeval.eval.judges.JudgeSpec;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * An evaluation suite read from YAML:
 * <pre>
 * name: safety-and-skill
 * seed: 1234                      # shots and limit sampling
 * defaults:                       # any task key; tasks override
 *   chat_template: true
 *   generation: {max_new_tokens: 64}
 * tasks:
 *   - name: advbench
 *     dataset: {kind: advbench, path: data/harmful_behaviors.csv}
 *     judge: refusal              # or keyword, llamaguard3:MODEL, wildguard:MODEL
 *     limit: 100
 *   - name: gsm8k
 *     dataset: {kind: gsm8k, path: test.jsonl, few_shot_path: train.jsonl, n_shot: 5}
 *     scorer: gsm8k
 *     chat_template: false
 *     system_prompt: null
 *     generation: {max_new_tokens: 256, temperature: 0, repetition_penalty: 1.0, stop: ["Question:"]}
 * engine: {kind: openai, base_url: http://127.0.0.1:8000/v1, model: NAME}   # optional; default djl
 * </pre>
 * A task's {@code judge_engine:} (or the default's) runs its model judge on a server.
 * Relative dataset paths are resolved against the suite file's directory. Unknown keys are errors.
 */
public record EvalSuite(String name, long seed, List<EvalTask> tasks, EngineSpec engine) {

    /** The YAML shape of a task (and of {@code defaults}); every key optional here. */
    public record TaskYaml(String name, DatasetYaml dataset, String judge, String scorer, Boolean chatTemplate,
                           String systemPrompt, GenerationSettings generation, Integer limit,
                           EngineSpec.Yaml judgeEngine) {
    }

    /** The YAML shape of a dataset reference. */
    public record DatasetYaml(String kind, String path, String fewShotPath, Integer nShot) {
    }

    /** The YAML shape of a suite. */
    public record SuiteYaml(String name, Long seed, TaskYaml defaults, List<TaskYaml> tasks, EngineSpec.Yaml engine) {
    }

    private static final ObjectMapper YAML = Mappers.yaml()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build();

    /** A suite run by the in-JVM engine. */
    public EvalSuite(String name, long seed, List<EvalTask> tasks) {
        this(name, seed, tasks, EngineSpec.DJL_ENGINE);
    }

    public EvalSuite {
        tasks = List.copyOf(tasks);
        java.util.Objects.requireNonNull(engine, "engine");
        if (tasks.isEmpty()) {
            throw new BadInputException("suite '" + name + "' has no tasks");
        }
        Set<String> names = new HashSet<>();
        for (EvalTask t : tasks) {
            if (!names.add(t.name())) {
                throw new BadInputException("suite '" + name + "': duplicate task name '" + t.name() + "'");
            }
        }
    }

    /**
     * Every location the suite's tasks read: datasets, few-shot files and the models of judges that
     * load one (a {@code BASE+ADAPTER} as one), as resolved when the suite was read.
     */
    public List<String> readLocations() {
        LinkedHashSet<String> read = new LinkedHashSet<>();
        for (EvalTask task : tasks) {
            read.add(task.dataset().path());
            if (task.dataset().fewShotPath() != null) {
                read.add(task.dataset().fewShotPath());
            }
            if (task.judge() != null && task.judge().loadsModel()) {
                read.add(task.judge().modelSource());
            }
        }
        return List.copyOf(read);
    }

    /** Reads and validates a suite file (any Hadoop FileSystem path). */
    public static EvalSuite read(String path) {
        String text;
        try (Reader in = dev.mergeval.eval.datasets.DatasetFiles.open(path)) {
            java.io.StringWriter w = new java.io.StringWriter();
            in.transferTo(w);
            text = w.toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return parse(text, path, parentOf(path));
    }

    /**
     * Parses and validates a suite.
     *
     * @param source  names the suite in messages (its file)
     * @param baseDir the directory relative dataset paths resolve against, or {@code null} to keep them
     */
    public static EvalSuite parse(String yaml, String source, String baseDir) {
        SuiteYaml y;
        try {
            y = YamlReader.readValue(YAML, yaml, SuiteYaml.class);
        } catch (JsonMappingException e) {
            BadInputException cause = BadInputException.in(e);
            if (cause != null) {
                throw new BadInputException(source + ": " + cause.getMessage(), e);
            }
            String line = e.getLocation() == null ? "" : ":" + e.getLocation().getLineNr();
            if (e.getCause() instanceof com.fasterxml.jackson.core.JsonParseException syntax) {
                throw new BadInputException(source + line + ": invalid YAML: " + Mappers.oneLine(syntax.getOriginalMessage()), e);
            }
            String key = keyPath(e);
            String what = e instanceof UnrecognizedPropertyException u
                    ? "unknown key (known: " + u.getKnownPropertyIds() + ")"
                    : Mappers.problem(e);
            throw new BadInputException(source + line + ": " + (key.isEmpty() ? "" : key + ": ") + what, e);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            String line = e.getLocation() == null ? "" : ":" + e.getLocation().getLineNr();
            throw new BadInputException(source + line + ": invalid YAML: " + Mappers.oneLine(e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + source, e);
        }
        if (y == null) {
            throw new BadInputException(source + ": empty suite");
        }
        try {
            return resolve(y, baseDir);
        } catch (BadInputException e) {
            throw new BadInputException(source + ": " + e.getMessage(), e);
        }
    }

    static EvalSuite resolve(SuiteYaml y, String baseDir) {
        long seed = y.seed() == null ? KeyedRandom.DEFAULT_SEED : y.seed();
        TaskYaml d = y.defaults() == null ? new TaskYaml(null, null, null, null, null, null, null, null, null)
                : y.defaults();
        if (y.tasks() == null) {
            throw new BadInputException("missing key 'tasks'");
        }
        List<EvalTask> tasks = new ArrayList<>();
        for (int i = 0; i < y.tasks().size(); i++) {
            TaskYaml t = y.tasks().get(i);
            if (t == null) {
                throw new BadInputException("tasks[" + i + "]: empty entry");
            }
            try {
                tasks.add(task(t, d, baseDir, seed, i));
            } catch (BadInputException e) {
                throw e.getMessage().startsWith("task ") ? e
                        : new BadInputException("task '" + t.name() + "': " + e.getMessage(), e);
            }
        }
        EngineSpec engine = y.engine() == null ? EngineSpec.DJL_ENGINE : EngineSpec.of(y.engine(), "engine");
        if (engine.launch() != null) {
            throw new BadInputException("engine.launch: a suite's engine needs base_url (a running server);"
                    + " launch belongs in a sweep spec");
        }
        return new EvalSuite(y.name() == null ? "suite" : y.name(), seed, tasks, engine);
    }

    private static EvalTask task(TaskYaml t, TaskYaml d, String baseDir, long seed, int index) {
        String name = t.name();
        DatasetYaml ds = t.dataset() != null ? t.dataset() : d.dataset();
        if (ds == null || ds.kind() == null || ds.path() == null) {
            throw new BadInputException("task '" + name + "': dataset needs kind and path");
        }
        DatasetKind kind = DatasetKind.parse(ds.kind());
        DatasetSpec spec = new DatasetSpec(kind, resolvePath(baseDir, ds.path()),
                ds.fewShotPath() == null ? null : resolvePath(baseDir, ds.fewShotPath()),
                ds.nShot() == null ? 0 : ds.nShot(), seed);
        String judge = t.judge() != null ? t.judge() : (t.scorer() == null ? d.judge() : null);
        String scorer = t.scorer() != null ? t.scorer() : (t.judge() == null ? d.scorer() : null);
        if (scorer == null && judge == null && kind.multipleChoice()) {
            scorer = EvalTask.MULTIPLE_CHOICE;
        }
        GenerationSettings gen = t.generation() != null ? t.generation()
                : d.generation() != null ? d.generation() : GenerationSettings.DEFAULT;
        Boolean chat = t.chatTemplate() != null ? t.chatTemplate() : d.chatTemplate();
        Integer limit = t.limit() != null ? t.limit() : d.limit();
        if (limit != null && limit < 1) {
            throw new BadInputException("task '" + name + "': limit must be >= 1, got " + limit);
        }
        String engineKey = t.judgeEngine() != null ? "tasks[" + index + "].judge_engine" : "defaults.judge_engine";
        EngineSpec.Yaml judgeEngine = t.judgeEngine() != null ? t.judgeEngine() : d.judgeEngine();
        JudgeSpec judgeSpec = judge == null ? null : JudgeSpec.parse(judge);
        if (judgeEngine != null) {
            EngineSpec e = EngineSpec.of(judgeEngine, engineKey);
            if (judgeSpec == null || !judgeSpec.needsModel()) {
                // A default judge engine applies to the tasks whose judge runs a model.
                if (t.judgeEngine() != null && e.isOpenAi()) {
                    throw new BadInputException("task '" + name + "': " + engineKey + ": its judge ("
                            + (judgeSpec == null ? "none" : judgeSpec.kind()) + ") runs no model to put on an engine");
                }
            } else {
                judgeSpec = judgeSpec.on(e, engineKey);
            }
        }
        return new EvalTask(name, spec, judgeSpec, scorer,
                chat == null || chat, t.systemPrompt() != null ? t.systemPrompt() : d.systemPrompt(),
                gen.toParams(seed), limit == null ? -1 : limit);
    }

    /**
     * The directory of a suite file, or {@code null} for a bare file name: Hadoop's parent of
     * {@code suite.yaml} is {@code .}, which its {@code Path} normalises to an empty string it then
     * refuses to resolve against.
     */
    static String parentOf(String path) {
        org.apache.hadoop.fs.Path parent = new org.apache.hadoop.fs.Path(path).getParent();
        return parent == null || parent.toString().isEmpty() ? null : parent.toString();
    }

    /** {@code p} against the suite's directory; absolute paths, URIs and paths of a bare-named suite as given. */
    static String resolvePath(String baseDir, String p) {
        if (baseDir == null || HadoopFs.hasScheme(p) || p.startsWith("/")) {
            return p;
        }
        return new org.apache.hadoop.fs.Path(baseDir, p).toString();
    }

    /** The YAML key path of a mapping error, as {@code tasks[0].generation.max_tokens}. */
    private static String keyPath(JsonMappingException e) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                path.append(path.length() == 0 ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                path.append('[').append(r.getIndex()).append(']');
            }
        }
        return path.toString();
    }
}
