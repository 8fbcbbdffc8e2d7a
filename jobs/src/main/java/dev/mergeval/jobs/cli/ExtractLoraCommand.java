package dev.mergeval.jobs.cli;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Progress;
import dev.mergeval.common.TruncatedSvd;
import dev.mergeval.jobs.SparkSessions;
import dev.mergeval.jobs.lora.SparkExtractExecutor;
import dev.mergeval.lora.ExtractExecutor;
import dev.mergeval.lora.ExtractionPlan;
import dev.mergeval.lora.LocalExtractExecutor;
import dev.mergeval.lora.LoraExtraction;
import dev.mergeval.provenance.LoraAdapterProvenance;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code mergeval extract-lora --model FT --base-model BASE --max-rank R OUT_DIR}; {@code --out-path OUT_DIR}
 * as mergekit-extract-lora names it is the same. mergekit-extract-lora also takes mergekit-yaml's
 * options, as this command does: {@code -j}, {@code --quiet} and {@code --random-seed} act, the
 * rest are named on the console as having no effect ({@link MergekitYamlOptions}).
 */
@Command(name = "extract-lora", mixinStandardHelpOptions = true,
        description = "Extract a PEFT LoRA adapter (rank <= R per matrix, truncated SVD of FT - BASE) into OUT_DIR.",
        footer = MergekitYamlOptions.FOOTER + "%n--out-shard-size, --copy-tokenizer, --write-model-card and"
                + " --allow-crimes are accepted and have no effect here, as in mergekit-extract-lora.")
final class ExtractLoraCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "OUT_DIR",
            description = "adapter directory (file://, hdfs://, s3a://)")
    String outDir;

    @Option(names = "--out-path", paramLabel = "OUT_DIR", description = "OUT_DIR, under mergekit-extract-lora's name")
    String outPath;

    @Option(names = "--model", required = true, paramLabel = "FT", description = "the fine-tuned model (dir, URI or BASE+ADAPTER)")
    String model;

    @Option(names = "--base-model", required = true, paramLabel = "BASE", description = "the model FT was tuned from")
    String baseModel;

    @Option(names = "--max-rank", paramLabel = "R",
            description = "largest rank per matrix (default: ${DEFAULT-VALUE}, as mergekit-extract-lora)")
    int maxRank = 128;

    @Option(names = "--svd", paramLabel = "auto|exact|randomized",
            description = "exact (EJML, double), randomized (Halko-Martinsson-Tropp, keyed by tensor name), or auto:"
                    + " exact up to --exact-limit (default: auto)")
    String svd = "auto";

    @Option(names = "--exact-limit", paramLabel = "N",
            description = "with --svd auto, the largest min(rows, cols) decomposed exactly (default: ${DEFAULT-VALUE})")
    int exactLimit = TruncatedSvd.EXACT_LIMIT;

    @Option(names = "--other", paramLabel = "save|report",
            description = "tensors that differ but are not decomposed (norms, biases, embeddings): save them whole"
                    + " under modules_to_save, or only report them in the provenance (default: save)")
    String other = "save";

    @Option(names = "--include-lm-head", description = "decompose the output head (lm_head) too")
    boolean includeLmHead;

    @Option(names = "--embed-lora", negatable = true,
            description = "decompose the input embeddings as PEFT embedding LoRA (lora_embedding_A/B) and the output"
                    + " head as a linear module, as mergekit-extract-lora --embed-lora (default: off: saved whole)")
    boolean embedLora;

    @Option(names = "--save-module", paramLabel = "MODULE",
            description = "save this module whole (modules_to_save) if it differs, never decomposed; repeatable")
    List<String> saveModules = new ArrayList<>();

    @Option(names = {"-i", "--include-regex"}, paramLabel = "REGEX",
            description = "only modules in whose name one of these is found take part; repeatable")
    List<String> includeRegexes = new ArrayList<>();

    @Option(names = {"-e", "--exclude-regex"}, paramLabel = "REGEX",
            description = "modules in whose name one of these is found take no part; repeatable")
    List<String> excludeRegexes = new ArrayList<>();

    @Option(names = "--sv-epsilon", paramLabel = "X",
            description = "also drop singular values at or below X (default: ${DEFAULT-VALUE})")
    double svEpsilon;

    @Option(names = "--distribute-scale", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "A = sqrt(S) V^T, B = U sqrt(S) (the default); --no-distribute-scale: A = S V^T, B = U")
    boolean distributeScale = true;

    @Option(names = "--skip-undecomposable", description = "the same as --other report (mergekit's name)")
    boolean skipUndecomposable;

    @Option(names = "--random-seed", description = "seed of the randomized SVD's sketch (default: ${DEFAULT-VALUE})")
    long seed = KeyedRandom.DEFAULT_SEED;

    @Option(names = "--overwrite", description = "replace an existing output")
    boolean overwrite;

    @Option(names = "--master", description = "Spark master URL (e.g. local[2], spark://host:7077); "
            + "without it (and outside spark-submit) tensors run on threads in this JVM")
    String master;

    @Option(names = {"--threads", "--num-threads", "-j"}, description = "threads of the single-JVM path (default: cores)")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Mixin
    MergekitYamlOptions mergekitYaml = new MergekitYamlOptions();

    @Option(names = "--out-shard-size", paramLabel = "SIZE", hidden = true)
    String outShardSize;

    @Option(names = "--copy-tokenizer", negatable = true, hidden = true)
    Boolean copyTokenizer;

    @Option(names = "--write-model-card", negatable = true, hidden = true)
    Boolean writeModelCard;

    @Option(names = "--allow-crimes", negatable = true, hidden = true)
    Boolean allowCrimes;

    @Override
    public Integer call() {
        InputChecks.atLeast("--threads", threads, 1);
        if (!(svEpsilon >= 0) || Double.isInfinite(svEpsilon)) {
            throw new BadInputException("--sv-epsilon " + svEpsilon + ": must be a finite number >= 0");
        }
        if ((outDir == null) == (outPath == null)) {
            throw new BadInputException(outDir == null ? "the adapter directory is missing: give OUT_DIR (or --out-path)"
                    : "give the adapter directory once: OUT_DIR '" + outDir + "' or --out-path '" + outPath + "'");
        }
        String out = outDir != null ? outDir : outPath;
        List<String> notes = new ArrayList<>(mergekitYaml.notes());
        if (outShardSize != null || copyTokenizer != null || writeModelCard != null || allowCrimes != null) {
            notes.add("--out-shard-size, --copy-tokenizer, --write-model-card and --allow-crimes have no effect on"
                    + " extract-lora, as on mergekit-extract-lora: the adapter is one file, with its card and no"
                    + " tokenizer");
        }
        notes.forEach(note -> System.err.println("mergeval: " + note));
        Progress progress = quiet ? Progress.NONE : new ConsoleProgress();
        LoraExtraction.Request request = new LoraExtraction.Request(model, baseModel, maxRank, out, overwrite,
                choice(ExtractionPlan.Svd.class, svd, "--svd"), exactLimit,
                skipUndecomposable ? LoraExtraction.Other.REPORT : choice(LoraExtraction.Other.class, other, "--other"),
                new LoraExtraction.Selection(includeLmHead, embedLora, saveModules, includeRegexes, excludeRegexes),
                new ExtractionPlan.Factors(svEpsilon, distributeScale), seed);
        LoraExtraction.Outcome outcome;
        if (master != null || SparkSessions.underSparkSubmit()) {
            LoraExtraction.plan(request, SparkSessions.hadoopConfiguration());
            SparkSession spark = SparkSessions.create("mergeval extract-lora", master);
            try {
                JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
                outcome = LoraExtraction.run(request, new SparkExtractExecutor(sc, progress),
                        sc.hadoopConfiguration());
            } finally {
                spark.stop();
            }
        } else {
            Configuration conf = HadoopFs.defaults();
            outcome = LoraExtraction.run(request, new LocalExtractExecutor(threads, conf, progress), conf);
        }
        LoraAdapterProvenance p = outcome.provenance();
        System.out.printf("extracted %d matrices at r = %d (relative error %.3g overall, %.3g at most) into %s"
                        + " (%.1f s)%n", p.totals().matrices(), p.adapter().r(), p.totals().relativeError(),
                p.totals().maxRelativeError(), outcome.outDir(), p.wallMillis() / 1000.0);
        for (String action : List.of("saved", "reported")) {
            List<String> tensors = p.whole().entrySet().stream().filter(e -> e.getValue().action().equals(action))
                    .map(java.util.Map.Entry::getKey).toList();
            if (!tensors.isEmpty()) {
                System.out.printf("  %d other tensors differ and were %s: %s%n", tensors.size(),
                        action.equals("saved") ? "saved whole (modules_to_save)" : "reported only", tensors);
            }
        }
        System.out.printf("  %d tensors equal in both were skipped%n", p.totals().equalSkipped());
        return MergevalCli.EXIT_OK;
    }

    /** An enum constant by its lower-case name, or a bad-input error naming the option. */
    static <E extends Enum<E>> E choice(Class<E> type, String value, String option) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(value)) {
                return e;
            }
        }
        throw new dev.mergeval.common.BadInputException(option + " " + value + ": must be one of "
                + java.util.Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(java.util.Locale.ROOT))
                .toList());
    }
}
