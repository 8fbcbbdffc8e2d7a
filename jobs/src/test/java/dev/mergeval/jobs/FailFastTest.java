package dev.mergeval.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Progress;
import dev.mergeval.jobs.cluster.SparkTestConf;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FailFastTest {

    /**
     * A task failing on bad input cancels the job; the others, busy for a while and deaf to the
     * interrupt (as a unit in a write can be), have all ended before the failure reaches the caller,
     * which may then delete what they write into.
     */
    @Test
    void aBadInputIsRethrownOnlyOnceTheCancelledTasksHaveEnded(@TempDir Path tmp) throws IOException {
        String dir = tmp.toString();
        JavaSparkContext sc = new JavaSparkContext(SparkTestConf.base("fail-fast").setMaster("local[3]"));
        try {
            BadInputException e = assertThrows(BadInputException.class, () -> FailFast.run(sc, "test", Progress.NONE,
                    () -> sc.parallelize(List.of(0, 1, 2), 3).map(i -> busyThenMark(i, dir)).collect()));
            assertEquals("unit 0: bad bytes", e.getMessage());
            try (Stream<Path> marks = Files.list(tmp)) {
                assertEquals(2, marks.count(), "both busy tasks ended before the failure was rethrown");
            }
        } finally {
            sc.stop();
        }
    }

    private static int busyThenMark(int i, String dir) {
        if (i == 0) {
            sleepThroughInterrupts(300);
            throw new BadInputException("unit 0: bad bytes");
        }
        sleepThroughInterrupts(2500);
        try {
            Files.writeString(Path.of(dir, "ended-" + i), "");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return i;
    }

    private static void sleepThroughInterrupts(long millis) {
        long end = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < end) {
            try {
                Thread.sleep(Math.max(1, (end - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException ignored) {
                // a write in progress finishes whatever the cancel
            }
        }
    }
}
