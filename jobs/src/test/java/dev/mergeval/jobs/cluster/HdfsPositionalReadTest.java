package dev.mergeval.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** hdfs:// through a real MiniDFSCluster: Spark tasks write multi-block files and pread ranges back. */
class HdfsPositionalReadTest {

    private static MiniHdfs hdfs;
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        hdfs = MiniHdfs.start(2);
        sc = new JavaSparkContext(SparkTestConf.local("hdfs-positional-read", 2));
    }

    @AfterAll
    static void stop() throws java.io.IOException {
        if (sc != null) {
            sc.stop();
        }
        // Cached clients close while their server still runs (else they stall JVM exit).
        org.apache.hadoop.fs.FileSystem.closeAll();
        if (hdfs != null) {
            hdfs.close();
        }
    }

    @Test
    void executorsWriteAndPreadAcrossBlocks() throws Exception {
        String dir = hdfs.uri() + "/mergeval/ranged";
        int files = 2;
        int size = 3 * 1024 * 1024 + 5;
        RangedIoJob.write(sc, dir, files, size, hdfs.clientSettings());

        FileSystem fs = FileSystem.get(new Path(dir).toUri(), hdfs.clientConf());
        Path first = new Path(dir, "part-0");
        assertEquals(size, fs.getFileStatus(first).getLen());
        assertTrue(fs.getFileBlockLocations(first, 0, size).length >= 4, "the file spans several blocks");

        List<RangedIoJob.Range> ranges = RangedIoJob.readRanges(sc, dir, files, size, 25, 300_000, hdfs.clientSettings());
        assertEquals(files * 25, ranges.size());
        for (RangedIoJob.Range r : ranges) {
            for (int k = 0; k < r.bytes().length; k++) {
                assertEquals(RangedIoJob.expected(r.file(), r.offset() + k), r.bytes()[k],
                        "file " + r.file() + " byte " + (r.offset() + k));
            }
        }
    }
}
