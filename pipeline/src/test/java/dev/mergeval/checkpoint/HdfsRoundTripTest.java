package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Sha256;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same checkpoint code on a real (in-process) HDFS: namenode plus one datanode. */
class HdfsRoundTripTest {

    @TempDir
    static java.nio.file.Path base;

    private static MiniDFSCluster cluster;
    private static Configuration conf;
    private static String root;

    @BeforeAll
    static void startCluster() throws Exception {
        Configuration c = new Configuration();
        c.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.resolve("dfs").toString());
        // Start-up takes ~40 s here, mostly Jetty unpacking the web UIs from the shaded jar.
        cluster = new MiniDFSCluster.Builder(c).numDataNodes(1).build();
        cluster.waitActive();
        conf = cluster.getConfiguration(0);
        root = "hdfs://localhost:" + cluster.getNameNodePort();
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.shutdown();
        }
    }

    @Test
    void shardedWriteReadPublishAndHashOnHdfs() throws Exception {
        List<SafetensorsWriter.TensorData> data = WriteReadRoundTripTest.everyDtype(4);
        OutputPublisher pub = OutputPublisher.forPath(root + "/models/merged", conf);
        Path staging = pub.stage(root + "/models/merged");
        FileSystem fs = HadoopFs.get(staging, conf);
        assertEquals("hdfs", fs.getUri().getScheme());
        ShardLayout layout = SafetensorsWriter.write(fs, staging, data, 200, Map.of("format", "pt"));
        assertTrue(layout.isSharded());
        try (OutputStream o = fs.create(new Path(staging, OutputPublisher.PROVENANCE_FILE))) {
            o.write("{}".getBytes(StandardCharsets.UTF_8));
        }
        Path out = pub.outputPath(root + "/models/merged");
        pub.publish(staging, out, false);
        assertThrows(BadInputException.class, () -> pub.checkDestination(out, false));

        try (Checkpoint ck = Checkpoint.open(root + "/models/merged", conf)) {
            assertEquals(layout.tensorNames(), ck.tensorNames());
            assertEquals(layout.shards().size(), ck.shardFiles().size());
            assertTrue(ck.root().startsWith("hdfs://"), ck.root());
            for (SafetensorsWriter.TensorData t : data) {
                String n = t.spec().name();
                if (t.floats() != null) {
                    float[] want = t.floats().clone();
                    TensorCodec.roundTo(t.spec().dtype(), want, 0, want.length);
                    assertArrayEquals(want, ck.readFloats(n), n);
                    if (want.length > 3) {
                        assertArrayEquals(java.util.Arrays.copyOfRange(want, 2, want.length - 1),
                                ck.readFloats(n, 2, want.length - 3), n + " ranged");
                    }
                } else {
                    assertArrayEquals(t.raw(), ck.readRaw(n, 0, t.raw().length), n);
                }
            }
            ShardFile first = ck.shardFiles().get(0);
            java.nio.file.Path local = base.resolve("copy.safetensors");
            fs.copyToLocalFile(new Path(first.path()), new Path(local.toUri()));
            assertEquals(Sha256.of(java.nio.file.Files.readAllBytes(local)),
                    HadoopFs.sha256(first.path(), conf));
        }
    }
}
