package dev.mergeval.jobs.eval;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.eval.EvalTask;
import dev.mergeval.eval.LocalEvaluator;
import dev.mergeval.eval.PromptRecord;
import dev.mergeval.eval.TaskRunner;
import dev.mergeval.eval.datasets.EvalExample;
import dev.mergeval.eval.judges.Judge;
import dev.mergeval.jobs.FailFast;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.source.ModelSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;

/**
 * Executor side of {@code mergeval eval}: runs one {@link EvalUnit}. The suite and each task's
 * sampled items are rebuilt once per executor JVM (cached by suite path, task and limit), the model
 * comes from {@link ExecutorModels} (leased for the unit and released when it ends, so the cache can
 * close it for the next model), and model loads, load time and the time spent generating and judging
 * are counted in accumulators. Model sources, the evaluated model's and the judges', come parsed from
 * the driver.
 */
final class RunUnit implements FlatMapFunction<EvalUnit, Row> {
    private static final long serialVersionUID = 1L;

    private static final Map<String, EvalSuite> SUITES = new HashMap<>();
    private static final Map<String, List<EvalExample>> ITEMS = new HashMap<>();

    /** The Spark environment whose settings were installed last (a test JVM starts several). */
    private static SparkEnv settingsOf;

    private final String suitePath;
    private final int limit;
    private final List<ModelSource> judgeModels;
    private final ModelFactory factory;
    private final int modelsPerDevice;
    private final LongAccumulator loads;
    private final LongAccumulator loadNanos;
    private final LongAccumulator generateNanos;

    /**
     * @param judgeModels by task index, the judge model of each task whose judge needs one, else null
     */
    public RunUnit(String suitePath, int limit, List<ModelSource> judgeModels, ModelFactory factory,
                   int modelsPerDevice, LongAccumulator loads, LongAccumulator loadNanos,
                   LongAccumulator generateNanos) {
        this.suitePath = suitePath;
        this.limit = limit;
        this.judgeModels = new ArrayList<>(judgeModels);
        this.factory = factory;
        this.modelsPerDevice = modelsPerDevice;
        this.loads = loads;
        this.loadNanos = loadNanos;
        this.generateNanos = generateNanos;
    }

    static synchronized EvalSuite suite(String path) {
        return SUITES.computeIfAbsent(path, EvalSuite::read);
    }

    static synchronized List<EvalExample> items(String path, EvalTask task, long seed, int limit) {
        return ITEMS.computeIfAbsent(path + "\u0000" + task.name() + "\u0000" + limit,
                k -> LocalEvaluator.items(task, seed, limit).examples());
    }

    @Override
    public Iterator<Row> call(EvalUnit unit) throws InterruptedException {
        try {
            return run(unit);
        } catch (RuntimeException e) {
            throw FailFast.unwrapBadInput(e);
        }
    }

    private Iterator<Row> run(EvalUnit unit) throws InterruptedException {
        // The job's Hadoop settings before the model is read (an S3A endpoint and keys, say).
        useJobHadoopSettings();
        try (ModelCache.Lease model = lease(unit.modelSource())) {
            return rows(unit, model.model()).iterator();
        }
    }

    /**
     * The unit's rows with {@code model} (leased by the caller, or a client of a server the caller
     * launched); the judge model, if any, is leased here.
     */
    List<Row> rows(EvalUnit unit, LanguageModel model) throws InterruptedException {
        useJobHadoopSettings();
        EvalSuite suite = suite(suitePath);
        EvalTask task = suite.tasks().get(unit.taskIndex());
        List<EvalExample> slice = items(suitePath, task, suite.seed(), limit).subList(unit.from(), unit.to());
        try (ModelCache.Lease judgeModel = task.judge() != null && task.judge().needsModel()
                ? lease(judgeModels.get(unit.taskIndex())) : null) {
            Judge judge = null;
            if (task.judge() != null) {
                judge = judgeModel != null ? task.judge().modelJudge(judgeModel.model()) : task.judge().ruleJudge();
            }
            long start = System.nanoTime();
            List<PromptRecord> records = TaskRunner.run(model, task, slice, judge);
            generateNanos.add(System.nanoTime() - start);
            List<Row> rows = new ArrayList<>(records.size());
            for (int i = 0; i < records.size(); i++) {
                rows.add(RecordRows.toRow(unit.modelIndex(), unit.taskIndex(), unit.from() + i, records.get(i)));
            }
            return rows;
        }
    }

    /**
     * Makes the Spark job's Hadoop settings this JVM's defaults ({@link HadoopFs#defaults()}), for
     * the models and for the suites and datasets the library reads: an executor's plain {@code new
     * Configuration()} lacks {@code spark.hadoop.*} (an S3A endpoint and keys, say). Called by every
     * unit, so an executor has them before it reads anything; a no-op outside Spark.
     */
    static synchronized void useJobHadoopSettings() {
        SparkEnv env = SparkEnv.get();
        if (env != null && env != settingsOf) {
            HadoopFs.useDefaults(SparkSessions.hadoopConfiguration(env.conf()));
            settingsOf = env;
        }
    }

    private ModelCache.Lease lease(ModelSource source) throws InterruptedException {
        ModelCache.Lease l = ExecutorModels.lease(source, TaskDevice.current(), modelsPerDevice, factory);
        if (l.loadedNow()) {
            loads.add(1);
            loadNanos.add(l.loadNanos());
        }
        return l;
    }
}
