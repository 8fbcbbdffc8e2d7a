package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FilterFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One run at a time in a resumable staging directory, on the local filesystem Mergeval uses. */
class StagingClaimTest {

    @TempDir
    Path dir;

    private FileSystem fs() {
        return HadoopFs.get(HadoopFs.of(dir), new Configuration());
    }

    private org.apache.hadoop.fs.Path staging() throws IOException {
        Files.createDirectories(dir.resolve("staging"));
        return HadoopFs.of(dir.resolve("staging"));
    }

    private JsonNode claimFile() throws IOException {
        return Mappers.JSON.readTree(dir.resolve("staging").resolve(StagingClaim.FILE).toFile());
    }

    private void writeClaim(Map<String, Object> content) throws IOException {
        Files.writeString(dir.resolve("staging").resolve(StagingClaim.FILE), Mappers.JSON.writeValueAsString(content));
    }

    @Test
    void aLiveClaimRefusesASecondRunUntilReleased() throws IOException {
        org.apache.hadoop.fs.Path staging = staging();
        StagingClaim first = StagingClaim.take(fs(), staging, "OUT");
        assertEquals(ProcessHandle.current().pid(), claimFile().get("pid").asLong());
        BadInputException e = assertThrows(BadInputException.class, () -> StagingClaim.take(fs(), staging, "OUT"));
        assertTrue(e.getMessage().startsWith("OUT: another run of this job is writing it (staging ")
                && e.getMessage().contains("claimed by process " + ProcessHandle.current().pid()), e.getMessage());
        first.verify();
        first.release();
        assertFalse(Files.exists(dir.resolve("staging").resolve(StagingClaim.FILE)), "released before publishing");
        try (StagingClaim second = StagingClaim.take(fs(), staging, "OUT")) {
            second.verify();
        }
        assertFalse(Files.exists(dir.resolve("staging").resolve(StagingClaim.FILE)), "a closed claim is removed");
    }

    /** A killed run's claim: on this host, its process gone; elsewhere, not renewed for two minutes. */
    /**
     * A check of the claim while this run's own heartbeat rewrites it (on S3 a read then fails on
     * the changed object; here it sees the file truncated) is no takeover.
     */
    @Test
    void aCheckDuringTheRunsOwnHeartbeatPasses() throws Exception {
        CountDownLatch rewriting = new CountDownLatch(1);
        CountDownLatch resume = new CountDownLatch(1);
        FileSystem slow = new FilterFileSystem(fs()) {
            @Override
            public FSDataOutputStream create(org.apache.hadoop.fs.Path f, FsPermission permission, boolean overwrite,
                    int bufferSize, short replication, long blockSize, Progressable progress) throws IOException {
                FSDataOutputStream out = super.create(f, permission, overwrite, bufferSize, replication, blockSize,
                        progress);
                if (overwrite && f.getName().equals(StagingClaim.FILE)) {
                    rewriting.countDown();
                    try {
                        resume.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return out;
            }
        };
        try (StagingClaim claim = StagingClaim.take(slow, staging(), "OUT", Duration.ofMillis(50))) {
            assertTrue(rewriting.await(30, TimeUnit.SECONDS), "a heartbeat began");
            CompletableFuture<Void> check = CompletableFuture.runAsync(claim::verify);
            Thread.sleep(200);
            resume.countDown();
            check.get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void aDeadRunsClaimIsTakenOver() throws Exception {
        org.apache.hadoop.fs.Path staging = staging();
        Process done = new ProcessBuilder("true").start();
        done.waitFor();
        JsonNode own = ownClaim();
        writeClaim(Map.of("run", "killed", "host", own.get("host").asText(), "pid_namespace",
                own.get("pid_namespace").asText(), "pid", done.pid(), "written", System.currentTimeMillis()));
        try (StagingClaim taken = StagingClaim.take(fs(), staging, "OUT")) {
            assertEquals(ProcessHandle.current().pid(), claimFile().get("pid").asLong());
        }
        long stale = System.currentTimeMillis() - StagingClaim.STALE.toMillis() - 1000;
        writeClaim(Map.of("run", "elsewhere", "host", "another-host", "pid", 1, "written", stale));
        try (StagingClaim taken = StagingClaim.take(fs(), staging, "OUT")) {
            taken.verify();
        }
        long fresh = System.currentTimeMillis() - 5000;
        writeClaim(Map.of("run", "elsewhere", "host", "another-host", "pid", 1, "written", fresh));
        BadInputException e = assertThrows(BadInputException.class, () -> StagingClaim.take(fs(), staging, "OUT"));
        assertTrue(e.getMessage().contains("on another-host, 5 s ago") || e.getMessage().contains("on another-host, 6 s ago"),
                e.getMessage());
        // Cut short by a kill mid-write: judged by the file's age, so new now.
        Files.writeString(dir.resolve("staging").resolve(StagingClaim.FILE), "{\"run\": \"x\", \"wri");
        assertThrows(BadInputException.class, () -> StagingClaim.take(fs(), staging, "OUT"));
    }

    @Test
    void aZombieHoldsNoClaim() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs /proc to see a process's state");
        // The subshell exits once its parent has become `sleep` by exec, which never reaps it: a
        // zombie, as a killed run's JVM stays in a container without an init.
        Process parent = new ProcessBuilder("bash", "-c", "(sleep 0.3; exit 0) & echo $!; exec sleep 30").start();
        try {
            long pid = Long.parseLong(new BufferedReader(new InputStreamReader(parent.getInputStream(),
                    StandardCharsets.UTF_8)).readLine().strip());
            Path stat = Path.of("/proc", Long.toString(pid), "stat");
            for (int i = 0; i < 500 && !Files.readString(stat).contains(") Z"); i++) {
                Thread.sleep(10);
            }
            assertTrue(Files.readString(stat).contains(") Z"), Files.readString(stat));
            assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the JDK counts it alive");
            assertFalse(StagingClaim.running(pid));
            assertTrue(StagingClaim.running(parent.pid()));

            org.apache.hadoop.fs.Path staging = staging();
            JsonNode own = ownClaim();
            writeClaim(Map.of("run", "killed", "host", own.get("host").asText(), "pid_namespace",
                    own.get("pid_namespace").asText(), "pid", pid, "written", System.currentTimeMillis()));
            try (StagingClaim taken = StagingClaim.take(fs(), staging, "OUT")) {
                assertEquals(ProcessHandle.current().pid(), claimFile().get("pid").asLong());
            }
        } finally {
            parent.destroyForcibly().waitFor();
        }
    }

    @Test
    void aRunWhoseClaimWasTakenOverPublishesNothing() throws IOException {
        org.apache.hadoop.fs.Path staging = staging();
        StagingClaim claim = StagingClaim.take(fs(), staging, "OUT");
        writeClaim(Map.of("run", "usurper", "host", "another-host", "pid", 1, "written", System.currentTimeMillis()));
        IllegalStateException e = assertThrows(IllegalStateException.class, claim::release);
        assertTrue(e.getMessage().contains("was taken over by another run"), e.getMessage());
        claim.close();
        assertEquals("usurper", claimFile().get("run").asText(), "the other run's claim is left alone");
    }

    /** Two processes creating one file: Hadoop's local create checked, then created; now one fails. */
    @Test
    void creatingWithoutOverwriteIsExclusiveOnTheLocalFilesystem() throws IOException {
        FileSystem fs = fs();
        org.apache.hadoop.fs.Path file = HadoopFs.of(dir.resolve("sub").resolve("f"));
        fs.create(file, false).close();
        assertThrows(FileAlreadyExistsException.class, () -> fs.create(file, false));
        fs.create(file, true).close();
        assertTrue(Files.isRegularFile(dir.resolve("sub").resolve("f")));
    }

    /** What this process writes in a claim. */
    private static JsonNode ownClaim() throws IOException {
        Path dir = Files.createTempDirectory("claim-host");
        try {
            FileSystem fs = HadoopFs.get(HadoopFs.of(dir), new Configuration());
            try (StagingClaim claim = StagingClaim.take(fs, HadoopFs.of(dir), "OUT")) {
                return Mappers.JSON.readTree(dir.resolve(StagingClaim.FILE).toFile());
            }
        } finally {
            Files.deleteIfExists(dir);
        }
    }
}
