package dev.mergeval.jobs.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.jobs.cluster.S3MockServer;
import dev.mergeval.merge.plan.MergePlan;
import dev.mergeval.merge.plan.MergeJob;
import dev.mergeval.merge.plan.UnitExecutor;
import dev.mergeval.merge.plan.UnitResult;
import dev.mergeval.merge.plan.WorkUnit;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.statistics.IOStatistics;
import org.apache.hadoop.fs.statistics.IOStatisticsSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The units of one merge in one JVM (an executor) read the inputs' headers, configs and index once:
 * S3A's request counters over a real S3 server (S3Mock) show no metadata or list request after the
 * first unit, where every unit used to make them for each shard of each input; and the parts are
 * those a fresh plan's units write, opening everything anew.
 */
class ReopenedInputsTest {

    private static S3MockServer s3;
    private static Configuration conf;

    @BeforeAll
    static void start() {
        // A bucket of its own: the JVM's cached S3A clients of other tests' servers are not this one's.
        s3 = S3MockServer.start("reopen");
        conf = s3.s3aConf();
    }

    @AfterAll
    static void stop() throws IOException {
        FileSystem.closeAll();
        if (s3 != null) {
            s3.close();
        }
    }

    @Test
    void unitsAfterTheFirstMakeNoMetadataRequests(@TempDir Path parts) throws IOException {
        MergeFixtures.Pair pair = MergeFixtures.write("s3a://reopen/pair", MergeFixtures.SHAPE, conf);
        MergeJob.Request request = MergeFixtures.request(MergeFixtures.ties(pair), parts.resolve("out").toString());
        MergePlan plan = MergeJob.plan(request, conf);
        List<WorkUnit> units = plan.units();
        assertTrue(units.size() >= 8, "many units: " + units.size());
        // The client's own counters: S3A's StorageStatistics are the JVM's first client's, maybe another test's.
        IOStatistics s3a = IOStatisticsSupport.retrieveIOStatistics(
                HadoopFs.get(new org.apache.hadoop.fs.Path(pair.base()), conf));
        int shards = shards(pair.base());
        assertTrue(plan.inputs().size() == 2 && shards > 2, "sharded inputs");

        long[] before = requests(s3a);
        List<byte[]> reopened = run(plan, units.subList(0, 1), parts.resolve("reopened"));
        long[] first = requests(s3a);
        assertTrue(first[0] - before[0] >= 2L * shards, "the first unit reads the headers");
        for (int i = 1; i < units.size(); i++) {
            reopened.addAll(run(plan, units.subList(i, i + 1), parts.resolve("reopened")));
        }
        long[] after = requests(s3a);
        assertEquals(0, after[0] - first[0], "metadata requests after the first of " + units.size() + " units");
        assertEquals(0, after[1] - first[1], "list requests after the first unit");

        // Each unit of a plan of its own (another job) opens the inputs anew, and writes the same part.
        for (int i = 0; i < units.size(); i++) {
            MergePlan own = MergeJob.plan(request, conf);
            long heads = requests(s3a)[0];
            byte[] fresh = run(own, List.of(units.get(i)), parts.resolve("fresh")).get(0);
            assertTrue(requests(s3a)[0] - heads >= 2L * shards, "a fresh plan's unit reads every header");
            assertArrayEquals(fresh, reopened.get(i), "unit " + units.get(i).id());
        }
    }

    private static List<byte[]> run(MergePlan plan, List<WorkUnit> units, Path dir) throws IOException {
        Files.createDirectories(dir);
        List<byte[]> out = new ArrayList<>();
        for (WorkUnit unit : units) {
            UnitResult result = UnitExecutor.execute(plan, unit, dir.toUri().toString(), conf);
            out.add(Files.readAllBytes(Path.of(URI.create(result.partPath()))));
        }
        return out;
    }

    private static int shards(String model) throws IOException {
        org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(model);
        return FileSystem.get(dir.toUri(), conf).listStatus(dir, p -> p.getName().endsWith(".safetensors")).length;
    }

    /** S3A's counts of metadata (HEAD) and list requests so far. */
    private static long[] requests(IOStatistics s3a) {
        return new long[] {count(s3a, "object_metadata_request"), count(s3a, "object_list_request")};
    }

    private static long count(IOStatistics s3a, String name) {
        Long n = s3a.counters().get(name);
        if (n == null) {
            throw new IllegalStateException("S3A counts no " + name + ": " + s3a.counters().keySet());
        }
        return n;
    }
}
