package dev.mergeval.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** s3a:// through a real S3 server (S3Mock, own JVM): Spark tasks write files and read ranges back. */
class S3aRangedReadTest {

    private static S3MockServer s3;
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        s3 = S3MockServer.start("mergeval");
        sc = new JavaSparkContext(SparkTestConf.local("s3a-ranged-read", 2));
    }

    @AfterAll
    static void stop() throws java.io.IOException {
        if (sc != null) {
            sc.stop();
        }
        // Cached clients close while their server still runs (else they stall JVM exit).
        org.apache.hadoop.fs.FileSystem.closeAll();
        if (s3 != null) {
            s3.close();
        }
    }

    @Test
    void executorsWriteAndReadByteRangesOverS3a() throws Exception {
        Map<String, String> conf = new HashMap<>(s3.s3aSettings());
        String dir = "s3a://mergeval/ranged";
        int files = 3;
        int size = 3 * 1024 * 1024 + 17;
        RangedIoJob.write(sc, dir, files, size, conf);

        FileSystem fs = FileSystem.get(new Path(dir).toUri(), s3.s3aConf());
        for (int i = 0; i < files; i++) {
            FileStatus status = fs.getFileStatus(new Path(dir, "part-" + i));
            assertEquals(size, status.getLen(), status.getPath().toString());
        }
        List<RangedIoJob.Range> ranges = RangedIoJob.readRanges(sc, dir, files, size, 20, 100_000, conf);
        assertEquals(files * 20, ranges.size());
        for (RangedIoJob.Range r : ranges) {
            for (int k = 0; k < r.bytes().length; k++) {
                assertEquals(RangedIoJob.expected(r.file(), r.offset() + k), r.bytes()[k],
                        "file " + r.file() + " byte " + (r.offset() + k));
            }
        }
    }
}
