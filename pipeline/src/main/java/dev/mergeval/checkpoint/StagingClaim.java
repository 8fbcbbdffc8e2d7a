package dev.mergeval.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * One run's hold on a staging directory that a rerun of the same job resumes (a merge's, named
 * after its plan): the file {@value #FILE} in it, naming the run, its host and process, written
 * again every {@link #HEARTBEAT} while the run works and deleted before it publishes.
 *
 * <p>Two runs of one job in one staging directory commit each other's half-moved files: two
 * identical merges started together with {@code --overwrite} both reported success and published
 * an output that held no weights. So a run that finds a live claim refuses to start; one that
 * finds a dead one (a killed run's: not written for {@link #STALE}, or by a process of this host
 * that is gone or a zombie) takes it over. Claims are created exclusively and taken over by
 * renaming the dead one aside, which on HDFS and local disks only one of two runs can do; on S3,
 * whose creates are not exclusive and whose renames are copies, two runs started within a moment
 * may both proceed.
 */
public final class StagingClaim implements AutoCloseable {

    /** The claim's file name in the staging directory. */
    public static final String FILE = "_mergeval_claim";
    static final Duration HEARTBEAT = Duration.ofSeconds(10);
    static final Duration STALE = Duration.ofMinutes(2);
    private static final String HOST = hostName();
    private static final String PID_NAMESPACE = pidNamespace();

    private final FileSystem fs;
    private final Path file;
    private final String run = UUID.randomUUID().toString();
    private final ScheduledExecutorService beats;
    /** Held while this run reads or writes its claim: a read must not see its own heartbeat half written. */
    private final Object access = new Object();
    private volatile boolean lost;

    private StagingClaim(FileSystem fs, Path staging) {
        this.fs = fs;
        this.file = new Path(staging, FILE);
        this.beats = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mergeval-staging-claim");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Claims {@code staging} for this run, or refuses (bad input naming {@code output}) while
     * another live run holds it.
     */
    public static StagingClaim take(FileSystem fs, Path staging, String output) {
        return take(fs, staging, output, HEARTBEAT);
    }

    static StagingClaim take(FileSystem fs, Path staging, String output, Duration heartbeat) {
        StagingClaim claim = new StagingClaim(fs, staging);
        try {
            // A dead claim renamed aside, then created again: a few turns at most, unless runs keep racing.
            for (int attempt = 0; attempt < 5; attempt++) {
                if (claim.create()) {
                    claim.beats.scheduleWithFixedDelay(claim::beat, heartbeat.toMillis(), heartbeat.toMillis(),
                            TimeUnit.MILLISECONDS);
                    return claim;
                }
                JsonNode holder = claim.read();
                if (holder == null) {
                    continue;
                }
                if (isLive(holder, System.currentTimeMillis())) {
                    long seconds = Math.max(0, (System.currentTimeMillis() - holder.path("written").asLong()) / 1000);
                    throw new BadInputException(output + ": another run of this job is writing it (staging " + staging
                            + ", claimed by process " + holder.path("pid").asLong() + " on " + holder.path("host").asText()
                            + ", " + seconds + " s ago); wait for it, or, if it is no longer running, delete "
                            + claim.file);
                }
                Path aside = claim.file.suffix(".dead-" + claim.run);
                if (fs.rename(claim.file, aside)) {
                    fs.delete(aside, false);
                }
            }
            throw new BadInputException(output + ": could not claim the staging directory " + staging
                    + ": other runs of this job keep claiming it");
        } catch (IOException e) {
            claim.beats.shutdownNow();
            throw new UncheckedIOException("cannot claim the staging directory " + staging, e);
        } catch (RuntimeException e) {
            claim.beats.shutdownNow();
            throw e;
        }
    }

    /**
     * A claim is live while written within {@link #STALE} by another host's run, or by a process
     * of this host that is still running.
     */
    static boolean isLive(JsonNode holder, long now) {
        boolean fresh = now - holder.path("written").asLong() < STALE.toMillis();
        if (!fresh || !HOST.equals(holder.path("host").asText())
                || !PID_NAMESPACE.equals(holder.path("pid_namespace").asText())) {
            return fresh;
        }
        return running(holder.path("pid").asLong());
    }

    /**
     * Whether process {@code pid} of this host still runs. A zombie does not: a killed run's JVM
     * stays one until its parent reaps it, which in a container without an init may be never, and
     * {@link ProcessHandle#isAlive} counts it alive. Its state is the field after the command's
     * closing parenthesis in {@code /proc/PID/stat}; without {@code /proc}, {@code isAlive} decides.
     */
    static boolean running(long pid) {
        if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            return false;
        }
        try {
            String stat = Files.readString(java.nio.file.Path.of("/proc", Long.toString(pid), "stat"));
            int state = stat.lastIndexOf(')') + 2;
            return state < 2 || state >= stat.length() || "ZXx".indexOf(stat.charAt(state)) < 0;
        } catch (java.nio.file.NoSuchFileException gone) {
            return false;
        } catch (IOException | RuntimeException e) {
            return true;
        }
    }

    /**
     * Throws if another run has taken the directory over (this one's heartbeat stopped for
     * {@link #STALE}): its files may then be that run's, half written.
     */
    public void verify() {
        try {
            JsonNode holder;
            synchronized (access) {
                holder = read();
            }
            if (lost || holder == null || !run.equals(holder.path("run").asText())) {
                throw new IllegalStateException(file.getParent() + " was taken over by another run of this job while"
                        + " this one ran (its claim was not renewed for " + STALE.toSeconds() + " s); nothing published");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the claim " + file, e);
        }
    }

    /**
     * Stops the heartbeat and removes the claim, before the run publishes; throws if another run
     * took the directory over meanwhile (this one's heartbeat stopped for {@link #STALE}), as the
     * files may then be that run's, half written.
     */
    public void release() {
        beats.shutdownNow();
        try {
            beats.awaitTermination(1, TimeUnit.MINUTES);
            verify();
            fs.delete(file, false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot release the claim " + file, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted releasing " + file, e);
        }
    }

    /** Stops the heartbeat and removes the claim if it is still this run's (a failed run's: a rerun resumes at once). */
    @Override
    public void close() {
        if (beats.isShutdown()) {
            return;
        }
        beats.shutdownNow();
        try {
            synchronized (access) {
                JsonNode holder = read();
                if (holder != null && run.equals(holder.path("run").asText())) {
                    fs.delete(file, false);
                }
            }
        } catch (IOException e) {
            // A claim left behind goes stale; a rerun takes it over then.
        }
    }

    private boolean create() throws IOException {
        try (OutputStream out = fs.create(file, false)) {
            out.write(content());
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } catch (IOException e) {
            // S3A and some other stores report an existing file only by this message.
            if (fs.exists(file)) {
                return false;
            }
            throw e;
        }
    }

    /** Writes the claim again, unless another run has taken it over (then this run stops renewing it). */
    private void beat() {
        try {
            synchronized (access) {
                JsonNode holder = read();
                if (holder == null || !run.equals(holder.path("run").asText())) {
                    lost = true;
                    beats.shutdown();
                    return;
                }
                try (OutputStream out = fs.create(file, true)) {
                    out.write(content());
                }
            }
        } catch (IOException e) {
            // A missed beat: the next one writes it; STALE allows for several.
        }
    }

    /** The claim's content; null where there is none. */
    private JsonNode read() throws IOException {
        byte[] bytes;
        try (InputStream in = fs.open(file)) {
            bytes = in.readAllBytes();
        } catch (FileNotFoundException e) {
            return null;
        }
        try {
            JsonNode holder = Mappers.JSON.readTree(bytes);
            if (holder != null && holder.path("written").isIntegralNumber()) {
                return holder;
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            // Cut short (a run killed while writing it) or not a claim: judged by the file's age below.
        }
        try {
            return Mappers.JSON.valueToTree(Map.of("run", "", "host", "", "pid", -1, "written",
                    fs.getFileStatus(file).getModificationTime()));
        } catch (FileNotFoundException e) {
            return null;
        }
    }

    private byte[] content() throws IOException {
        return Mappers.JSON.writeValueAsString(Map.of("run", run, "host", HOST, "pid_namespace", PID_NAMESPACE,
                "pid", ProcessHandle.current().pid(), "written", System.currentTimeMillis())).getBytes(StandardCharsets.UTF_8);
    }

    /** This machine's name: the kernel's first, as resolving it (InetAddress) can wait on DNS. */
    private static String hostName() {
        try {
            return Files.readString(java.nio.file.Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException | RuntimeException e) {
            try {
                return InetAddress.getLocalHost().getHostName();
            } catch (IOException unknown) {
                return "unknown-host";
            }
        }
    }

    /**
     * On Linux, this process's PID namespace: containers that share their host's name (host
     * networking) do not see each other's processes, so a claim from another namespace is judged
     * by its age alone, as another host's.
     */
    private static String pidNamespace() {
        try {
            return Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid")).toString();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
