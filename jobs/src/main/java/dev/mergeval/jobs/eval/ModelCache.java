package dev.mergeval.jobs.eval;

import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.source.ModelSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loaded models shared by the tasks of one JVM, bounded per device and reference-counted, so that a
 * sweep of many models holds a few at a time instead of all of them (with 8B models, every one kept
 * is 16 GB of executor memory).
 *
 * <p>The guarantee, per device: models loaded or being loaded never exceed the bound N passed to
 * {@link #lease}, with one exception. A thread that already holds a lease (a task that holds its
 * evaluated model and needs a judge model) never waits: when no cached model is idle it loads beyond
 * N. So at most N + (threads holding nested leases) models are open on a device, and the excess is
 * closed as soon as it is released. Without the exception, a task holding one model and waiting for a
 * second could wait forever with N = 1.
 *
 * <p>A request by a thread holding no lease: a cached model is shared (no load, no wait); a model
 * another thread is loading is awaited; otherwise the least recently used idle models are closed to
 * make room, and when every cached model is in use the request waits until one is released. A model
 * with a lease is never closed. Loads run outside the lock (other tasks keep getting cached models)
 * and each happens once while the model stays cached; closes run under it, so a model is closed
 * before the load that replaces it starts. Waiting is interruptible, as Spark kills tasks by
 * interrupting them.
 *
 * <p>Models are keyed by device and the source's text ({@link ModelSource#text()}): two values of
 * one source (a merge parsed on the driver and shipped twice, say) share one model.
 */
final class ModelCache {

    private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);

    /** A model held until {@link #close}; every lease must be closed, once, by the task that took it. */
    public final class Lease implements AutoCloseable {
        private final Entry entry;
        private final int[] heldByOwner;
        private final boolean loadedNow;
        private final long loadNanos;
        private boolean released;

        private Lease(Entry entry, int[] heldByOwner, boolean loadedNow, long loadNanos) {
            this.entry = entry;
            this.heldByOwner = heldByOwner;
            this.loadedNow = loadedNow;
            this.loadNanos = loadNanos;
        }

        public LanguageModel model() {
            return entry.model;
        }

        /** Whether this request loaded the model (the eval summary counts loads). */
        public boolean loadedNow() {
            return loadedNow;
        }

        public long loadNanos() {
            return loadNanos;
        }

        @Override
        public void close() {
            release(this);
        }
    }

    private static final class Entry {
        final String source;
        final Device device;
        LanguageModel model;
        int refs;
        /** Forgotten by {@link #closeAll} while leased or loading: closed at its last release. */
        boolean retired;

        Entry(String source, Device device) {
            this.source = source;
            this.device = device;
        }

        boolean idle() {
            return refs == 0 && model != null;
        }
    }

    /** One device's entries by source text, least recently used first. */
    private static final class Device {
        final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
        int bound;
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Map<String, Device> devices = new HashMap<>();
    private final ThreadLocal<int[]> held = ThreadLocal.withInitial(() -> new int[1]);

    /**
     * Leases {@code model} on {@code device}, loading it with {@code factory} if it is not cached.
     *
     * @param perDevice the bound N (at least 1); the latest value given for a device applies
     * @throws InterruptedException when the thread is interrupted while waiting for room or for
     *                              another thread's load of the same model
     */
    public Lease lease(ModelSource model, String device, int perDevice, ModelFactory factory)
            throws InterruptedException {
        if (perDevice < 1) {
            throw new IllegalArgumentException("models per device must be >= 1, got " + perDevice);
        }
        String source = model.text();
        int[] mine = held.get();
        boolean nested = mine[0] > 0;
        Entry reserved;
        lock.lockInterruptibly();
        try {
            Device d = devices.computeIfAbsent(device, k -> new Device());
            d.bound = perDevice;
            while (true) {
                Entry e = d.entries.get(source);
                if (e != null && e.model != null) {
                    e.refs++;
                    mine[0]++;
                    return new Lease(e, mine, false, 0L);
                }
                if (e == null && makeRoom(d, nested)) {
                    reserved = new Entry(source, d);
                    reserved.refs = 1;
                    d.entries.put(source, reserved);
                    break;
                }
                changed.await();
            }
        } finally {
            lock.unlock();
        }
        long start = System.nanoTime();
        LanguageModel loaded;
        try {
            loaded = factory.load(model, device);
        } catch (Throwable ex) {
            lock.lock();
            try {
                reserved.device.entries.remove(source, reserved);
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            throw ex;
        }
        long nanos = System.nanoTime() - start;
        lock.lock();
        try {
            reserved.model = loaded;
            mine[0]++;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        return new Lease(reserved, mine, true, nanos);
    }

    /**
     * Closes idle models, least recently used first, so that one more fits under the bound; a
     * nested request closes what it can and proceeds anyway. Under the lock.
     */
    private boolean makeRoom(Device d, boolean nested) {
        int excess = d.entries.size() - (d.bound - 1);
        if (excess <= 0) {
            return true;
        }
        long idle = d.entries.values().stream().filter(Entry::idle).count();
        if (idle < excess && !nested) {
            return false;
        }
        closeIdle(d, excess);
        return true;
    }

    /** Closes up to {@code count} idle models, least recently used first. Under the lock. */
    private static void closeIdle(Device d, int count) {
        List<Entry> victims = new ArrayList<>();
        for (Iterator<Entry> it = d.entries.values().iterator(); it.hasNext() && victims.size() < count; ) {
            Entry e = it.next();
            if (e.idle()) {
                victims.add(e);
                it.remove();
            }
        }
        victims.forEach(ModelCache::closeModel);
    }

    private void release(Lease lease) {
        lock.lock();
        try {
            if (lease.released) {
                return;
            }
            lease.released = true;
            lease.heldByOwner[0]--;
            Entry e = lease.entry;
            e.refs--;
            if (e.refs == 0) {
                if (e.retired) {
                    closeModel(e);
                } else {
                    int over = e.device.entries.size() - e.device.bound;
                    if (over > 0) {
                        closeIdle(e.device, over);
                    }
                }
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Closes every idle model and forgets every model; one in use (or being loaded) is closed when
     * its last lease is released. For tests, and local runs that end before the JVM does.
     */
    public void closeAll() {
        lock.lock();
        try {
            for (Device d : devices.values()) {
                for (Entry e : d.entries.values()) {
                    if (e.idle()) {
                        closeModel(e);
                    } else {
                        e.retired = true;
                    }
                }
                d.entries.clear();
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private static void closeModel(Entry e) {
        try {
            e.model.close();
        } catch (RuntimeException ex) {
            LOG.warn("closing model {} failed", e.source, ex);
        }
    }
}
