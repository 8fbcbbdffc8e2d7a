package dev.mergeval.jobs.cli;

import dev.mergeval.engine.EngineSpec;
import dev.mergeval.engine.OpenAiClient;
import dev.mergeval.eval.EvalOutputs;
import dev.mergeval.eval.JudgeRun;
import dev.mergeval.eval.MetricRow;
import dev.mergeval.eval.datasets.DatasetFiles;
import dev.mergeval.eval.judges.JudgeSpec;
import dev.mergeval.jobs.ConsoleLogging;
import dev.mergeval.jobs.OutputLocation;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.jobs.StagedOutput;
import dev.mergeval.jobs.eval.RuntimeModelFactory;
import dev.mergeval.provenance.Engine;
import dev.mergeval.provenance.Environment;
import dev.mergeval.provenance.EvalProvenance;
import dev.mergeval.provenance.FileHash;
import dev.mergeval.provenance.JudgeProvenance;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mergeval judge}: judges completions produced elsewhere and writes {@code verdicts.jsonl},
 * {@code metrics.json} and {@code metrics.csv}, published whole with {@code mergeval_provenance.json}.
 */
@Command(name = "judge", mixinStandardHelpOptions = true,
        description = "Judge completions (JSONL or CSV with prompt and completion; optional id, category).")
final class JudgeCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--input", required = true, paramLabel = "FILE", description = "JSONL or CSV of completions.")
    String input;

    @Option(names = "--judge", required = true, paramLabel = "JUDGE",
            description = "keyword (GCG list), keyword-extended, refusal (Mergeval's detector), "
                    + "llamaguard3:MODEL or wildguard:MODEL.")
    String judge;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "Output directory: a local path, file:, hdfs:// or s3a://; published whole when done.")
    String out;

    @Option(names = "--overwrite", description = "Replace a non-empty output directory (atomically, when done).")
    boolean overwrite;

    @Option(names = "--model-name", paramLabel = "NAME",
            description = "Name of the model that produced the completions, for metrics (default: input file name).")
    String modelName;

    @Option(names = "--task", paramLabel = "NAME", defaultValue = "judge", description = "Task name for metrics.")
    String task;

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "cpu",
            description = "Device of a model judge: cpu or cuda:N (default ${DEFAULT-VALUE}).")
    String device;

    @picocli.CommandLine.Mixin
    EngineOptions engineOptions = new EngineOptions();

    @Override
    public Integer call() {
        JudgeSpec js = InputChecks.judge(judge);
        EngineSpec engine = engineOptions.resolve(EngineSpec.DJL_ENGINE);
        if (engine.isOpenAi()) {
            // The engine runs the judge model: MODEL in wildguard:MODEL is its served name.
            js = js.on(engine, "--engine");
        }
        InputChecks.judgeInput(input);
        if (js.needsModel()) {
            InputChecks.device(device);
        }
        ModelSource judgeSource;
        if (js.servedEngine() != null) {
            judgeSource = new ModelSource.Served(js.servedEngine().requireServer(null));
            ModelSources.check(judgeSource, SparkSessions.hadoopConfiguration());
        } else {
            judgeSource = js.needsModel() ? InputChecks.models(List.of(js.modelSource())).get(0) : null;
        }
        Engine judgeEngine = !js.needsModel() ? null : js.servedEngine() == null ? Engine.djl(Environment.current())
                : Engine.openai(js.servedEngine().root(), js.servedEngine().model(),
                        new OpenAiClient(js.servedEngine()).requireModel(), null);
        JudgeSpec judgeSpec = js;
        OutputLocation location = OutputLocation.resolve(out, SparkSessions.hadoopConfiguration());
        StagedOutput.check(location, overwrite);
        if (overwrite) {
            List<String> read = new ArrayList<>(List.of(input));
            if (js.loadsModel()) {
                read.add(js.modelSource());
            }
            location.requireHoldsNone(read, "this judging reads");
        }
        String model = modelName != null ? modelName : DatasetFiles.stem(input);
        FileHash inputHash = EvalOutputs.hash(input, SparkSessions.hadoopConfiguration());
        Environment environment = Environment.current();
        Supplier<JudgeProvenance> provenance = () -> new JudgeProvenance(EvalProvenance.FORMAT, JudgeProvenance.COMMAND,
                Environment.buildVersion(), Instant.now().toString(), new JudgeProvenance.Inputs(input, judge),
                new JudgeProvenance.Parameters(model, task, device), inputHash,
                judgeEngine, environment);
        JudgeRun.Result result = StagedOutput.write(location, overwrite, provenance, dir -> {
            if (!judgeSpec.needsModel()) {
                return JudgeRun.run(input, judgeSpec.ruleJudge(), location.fs(), dir, model, task);
            }
            try (LanguageModel judgeModel = new RuntimeModelFactory().load(judgeSource, device)) {
                return JudgeRun.run(input, judgeSpec.modelJudge(judgeModel), location.fs(), dir, model, task);
            }
        });
        var w = spec.commandLine().getOut();
        w.printf("judged %d rows from %s with %s -> %s%n", result.rows(), input, js, out);
        for (MetricRow r : result.metrics()) {
            if (r.category().equals(MetricRow.ALL)) {
                w.printf("  %s: %.4f [%.4f, %.4f] n=%d unparseable=%d%n", r.metric(), r.rate(),
                        r.interval().low(), r.interval().high(), r.n(), r.unparseable());
            }
        }
        // The log is not a result: it joins the output after publication.
        String log = ConsoleLogging.copyTo(location);
        if (log != null) {
            w.printf("log: %s%n", log);
        }
        return MergevalCli.EXIT_OK;
    }
}
