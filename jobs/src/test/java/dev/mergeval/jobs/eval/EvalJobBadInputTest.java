package dev.mergeval.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.jobs.cluster.ProjectLayout;
import dev.mergeval.jobs.cluster.SparkTestConf;
import dev.mergeval.source.ModelSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A unit that meets bad input on an executor (here a model that fails to load, wrapped as loaders
 * wrap errors) fails the eval job with the task's own {@link BadInputException}, and the failed task
 * is not retried to exhaustion although {@code local[2,4]} allows four attempts per task, as a cluster does.
 */
class EvalJobBadInputTest {

    /** Load attempts in this JVM (local mode runs tasks in the driver's JVM). */
    static final AtomicInteger ATTEMPTS = new AtomicInteger();

    @TempDir
    Path dir;

    @Test
    void badInputInATaskFailsTheJobWithItsMessageAndIsNotRetried() throws IOException {
        Path suite = dir.resolve("suite.yaml");
        Files.writeString(suite, "tasks:\n  - {name: harmful, dataset: {kind: jsonl, path: "
                + ProjectLayout.root().resolve("data/toy/heldout-harmful.jsonl") + "}, judge: keyword, limit: 3}\n");
        ModelFactory broken = (source, device) -> {
            ATTEMPTS.incrementAndGet();
            throw new UncheckedIOException(new IOException("wrapped",
                    new BadInputException(source + "/model.safetensors: truncated shard")));
        };
        ATTEMPTS.set(0);
        SparkSession spark = SparkSession.builder().config(SparkTestConf.base("EvalJobBadInputTest")
                .setMaster("local[2,4]")).getOrCreate();
        try {
            EvalJobConfig config = new EvalJobConfig(List.of(new ModelSource.Directory("/models/m")), suite.toString(),
                    dir.resolve("out").toString(), -1, 8);
            BadInputException e = assertThrows(BadInputException.class,
                    () -> EvalJob.run(spark, config, broken, false));
            assertEquals("/models/m/model.safetensors: truncated shard", e.getMessage());
            // The driver cancels on the first failure it hears of; a retry already launched may still run.
            assertTrue(ATTEMPTS.get() < 4, "aborted before Spark's 4 attempts ran out: " + ATTEMPTS.get());
            assertFalse(Files.exists(dir.resolve("out/metrics.json")));
        } finally {
            spark.stop();
        }
    }
}
