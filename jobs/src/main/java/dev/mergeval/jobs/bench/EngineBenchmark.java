package dev.mergeval.jobs.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.Mappers;
import dev.mergeval.engine.EngineSpec;
import dev.mergeval.engine.ServerLauncher;
import dev.mergeval.eval.EvalOutputs;
import dev.mergeval.jobs.eval.EvalJob;
import dev.mergeval.jobs.eval.EvalJobConfig;
import dev.mergeval.jobs.eval.ExecutorModels;
import dev.mergeval.jobs.eval.RuntimeModelFactory;
import dev.mergeval.source.ModelSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.spark.sql.SparkSession;

/**
 * {@code mergeval bench engine}: one suite evaluated by the in-JVM engine and through an OpenAI
 * engine (a {@code mergeval serve} this benchmark launches on the same model, or any server command),
 * each in a fresh Spark session on the same master; wall times, and whether the per-prompt records
 * are identical apart from the fields that name the engine or time it ({@link #ENGINE_FIELDS}).
 */
public final class EngineBenchmark {

    /** Record fields that may differ between engines: the model's name (a source or a served name) and timing. */
    public static final List<String> ENGINE_FIELDS = List.of("model", "latency_ms");

    /**
     * @param model  the model source, evaluated in the JVM and given to the launched server as {@code {model}}
     * @param launch the server command with {@code {model}} and {@code {port}}
     */
    public record Config(String model, String suite, String master, int limit, String launch, int concurrency,
                         Path work, int warmup) {
    }

    /**
     * @param serverStartSeconds from launching the server to its first answer to {@code GET /v1/models}
     * @param differences        the first few records that differ (beyond {@link #ENGINE_FIELDS}), by line
     */
    public record Result(EvalJob.Summary jvm, EvalJob.Summary engine, double serverStartSeconds, long records,
                         int differing, List<String> differences) {
    }

    private EngineBenchmark() {
    }

    public static Result run(Config c) {
        if (c.warmup() > 0) {
            // The JVM's and PyTorch's one-off start-up, paid before either measured run.
            eval(new Config(c.model(), c.suite(), c.master(), c.warmup(), c.launch(), c.concurrency(), c.work(), 0),
                    ModelSource.parse(c.model(), dev.mergeval.checkpoint.HadoopFs.defaults()), c.work().resolve("warmup"));
        }
        Path jvmOut = c.work().resolve("jvm");
        Path engineOut = c.work().resolve("engine");
        EvalJob.Summary jvm = eval(c, ModelSource.parse(c.model(), dev.mergeval.checkpoint.HadoopFs.defaults()), jvmOut);
        EngineSpec launch = new EngineSpec(EngineSpec.OPENAI, null, null, null, c.concurrency(),
                EngineSpec.DEFAULT_TIMEOUT_SECONDS, EngineSpec.DEFAULT_MAX_RETRIES, c.launch(),
                EngineSpec.DEFAULT_STARTUP_TIMEOUT_SECONDS).validate("--launch");
        long start = System.nanoTime();
        EvalJob.Summary engine;
        double startSeconds;
        try (ServerLauncher server = ServerLauncher.start(launch, c.model())) {
            startSeconds = (System.nanoTime() - start) / 1e9;
            engine = eval(c, new ModelSource.Served(server.engine()), engineOut);
        }
        List<String> diffs = differences(jvmOut.resolve(EvalOutputs.RECORDS), engineOut.resolve(EvalOutputs.RECORDS));
        return new Result(jvm, engine, startSeconds, jvm.records(), diffs.size(),
                diffs.subList(0, Math.min(5, diffs.size())));
    }

    private static EvalJob.Summary eval(Config c, ModelSource model, Path out) {
        SparkSession spark = SparkSession.builder().appName("mergeval bench engine").master(c.master())
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            ExecutorModels.closeAll();
            return EvalJob.run(spark, new EvalJobConfig(List.of(model), c.suite(), out.toString(), c.limit(),
                    EvalJobConfig.DEFAULT_SLICE_SIZE), new RuntimeModelFactory(), true);
        } finally {
            spark.stop();
            ExecutorModels.closeAll();
        }
    }

    /**
     * The lines of two {@code records.jsonl} that differ once {@link #ENGINE_FIELDS} are left out,
     * each as {@code line N: <first> != <second>}; a different line count is one difference.
     */
    public static List<String> differences(Path a, Path b) {
        try {
            List<String> la = Files.readAllLines(a);
            List<String> lb = Files.readAllLines(b);
            List<String> out = new ArrayList<>();
            if (la.size() != lb.size()) {
                out.add(a + " has " + la.size() + " records, " + b + " has " + lb.size());
            }
            for (int i = 0; i < Math.min(la.size(), lb.size()); i++) {
                JsonNode x = withoutEngineFields(la.get(i));
                JsonNode y = withoutEngineFields(lb.get(i));
                if (!x.equals(y)) {
                    out.add("line " + (i + 1) + ": " + x + " != " + y);
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode withoutEngineFields(String line) throws IOException {
        ObjectNode o = (ObjectNode) Mappers.JSON.readTree(line);
        ENGINE_FIELDS.forEach(o::remove);
        return o;
    }

    /**
     * {@code mergeval serve --model {model} --port {port}} run by this JVM's own command (its java,
     * JVM options and class path), so the benchmark needs no installed launcher.
     */
    public static String thisJvmServe() {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.mergeval.jobs.cli.MergevalCli");
        return cmd.stream().map(EngineBenchmark::quote).collect(Collectors.joining(" "))
                + " serve --model {model} --port {port}";
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
