package dev.mergeval.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import dev.mergeval.source.ModelSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The cache's rules: the bound, LRU order, in-use models, waiting, nested leases, interrupts, failures. */
class ModelCacheTest {

    /** Records loads and closes, in order, as "load a" / "close a". */
    private static final class Recorder implements ModelFactory {
        private static final long serialVersionUID = 1L;
        final List<String> events = new ArrayList<>();
        volatile CountDownLatch gate;
        volatile String fail;

        @Override
        public LanguageModel load(ModelSource model, String device) {
            String source = model.text();
            if (gate != null) {
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
            if (source.equals(fail)) {
                throw new IllegalStateException("cannot load " + source);
            }
            log("load " + source);
            return new Stub(this, source);
        }

        synchronized void log(String e) {
            events.add(e);
        }

        synchronized List<String> events() {
            return List.copyOf(events);
        }

        synchronized long count(String e) {
            return events.stream().filter(e::equals).count();
        }
    }

    private static final class Stub implements LanguageModel {
        final Recorder recorder;
        final String source;

        Stub(Recorder recorder, String source) {
            this.recorder = recorder;
            this.source = source;
        }

        @Override
        public String id() {
            return source;
        }

        @Override
        public String renderChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<Completion> generate(List<String> prompts, GenerationParams params) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<LogLikelihood> logLikelihood(List<LogLikelihoodRequest> requests) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void close() {
            recorder.log("close " + source);
        }
    }

    private final ModelCache cache = new ModelCache();
    private final Recorder rec = new Recorder();
    private final List<Thread> threads = new ArrayList<>();

    @AfterEach
    void stop() {
        threads.forEach(Thread::interrupt);
    }

    /** Runs {@code c} on a thread of its own: a thread holding a lease would make the next one nested. */
    private <T> Future<T> async(Callable<T> c) {
        FutureTask<T> f = new FutureTask<>(c);
        Thread t = new Thread(f);
        t.setDaemon(true);
        threads.add(t);
        t.start();
        return f;
    }

    private ModelCache.Lease lease(String source, int n) throws InterruptedException {
        return cache.lease(new ModelSource.Directory(source), "cpu", n, rec);
    }

    /** Fails if {@code f} finishes within 300 ms: it should be waiting in the cache. */
    private static void assertBlocked(Future<?> f) throws Exception {
        assertThrows(TimeoutException.class, () -> f.get(300, TimeUnit.MILLISECONDS));
    }

    @Test
    void leastRecentlyUsedIdleModelIsClosedToMakeRoom() throws Exception {
        lease("a", 2).close();
        lease("b", 2).close();
        try (ModelCache.Lease again = lease("a", 2)) {
            assertFalse(again.loadedNow(), "a cached model is not loaded again");
        }
        lease("c", 2).close();
        assertEquals(List.of("load a", "load b", "close b", "load c"), rec.events(), "b was used least recently");
        lease("b", 2).close();
        assertEquals(List.of("load a", "load b", "close b", "load c", "close a", "load b"), rec.events());
        cache.closeAll();
        assertEquals(1, rec.count("close c"));
        assertEquals(2, rec.count("close b"));
    }

    @Test
    void aModelInUseIsSharedAndNeverClosedAndOthersWait() throws Exception {
        ModelCache.Lease a = lease("a", 1);
        ModelCache.Lease shared = async(() -> lease("a", 1)).get(5, TimeUnit.SECONDS);
        assertSame(a.model(), shared.model());
        assertFalse(shared.loadedNow());

        Future<ModelCache.Lease> b = async(() -> lease("b", 1));
        assertBlocked(b);
        a.close();
        assertBlocked(b);
        assertEquals(List.of("load a"), rec.events(), "a is still leased once: neither closed nor replaced");
        shared.close();
        ModelCache.Lease gotB = b.get(5, TimeUnit.SECONDS);
        assertEquals(List.of("load a", "close a", "load b"), rec.events(), "closed before its replacement loads");
        gotB.close();
    }

    @Test
    void aThreadHoldingALeaseMayExceedTheBoundWithoutDeadlock() throws Exception {
        ModelCache.Lease a = lease("a", 1);
        Future<ModelCache.Lease> other = async(() -> lease("b", 1));
        assertBlocked(other);
        // The nested lease is taken by the thread that holds "a" (this one): it must not wait.
        ModelCache.Lease judge = lease("judge", 1);
        assertTrue(judge.loadedNow());
        assertEquals(List.of("load a", "load judge"), rec.events(), "two models open with N = 1: the nested one");
        judge.close();
        assertEquals(List.of("load a", "load judge", "close judge"), rec.events(), "the excess is closed on release");
        assertBlocked(other);
        a.close();
        other.get(5, TimeUnit.SECONDS).close();
        assertEquals(List.of("load a", "load judge", "close judge", "close a", "load b"), rec.events());
    }

    @Test
    void aNestedLeaseEvictsIdleModelsFirst() throws Exception {
        lease("x", 2).close();
        try (ModelCache.Lease a = lease("a", 2); ModelCache.Lease j = lease("j", 2)) {
            assertTrue(j.loadedNow());
            assertEquals(List.of("load x", "load a", "close x", "load j"), rec.events(), "within the bound of 2");
        }
    }

    @Test
    void aWaitingRequestIsInterruptible() throws Exception {
        ModelCache.Lease a = lease("a", 1);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread waiter = new Thread(() -> {
            try {
                lease("b", 1).close();
            } catch (Throwable e) {
                thrown.set(e);
            }
        });
        waiter.start();
        for (int i = 0; i < 500 && waiter.getState() != Thread.State.WAITING; i++) {
            Thread.sleep(10);
        }
        assertEquals(Thread.State.WAITING, waiter.getState(), "waits while the only place is in use");
        waiter.interrupt();
        waiter.join(5000);
        assertFalse(waiter.isAlive());
        assertInstanceOf(InterruptedException.class, thrown.get());
        a.close();
        // The interrupted request left nothing behind: a stays cached, b was never loaded.
        try (ModelCache.Lease again = lease("a", 1)) {
            assertFalse(again.loadedNow());
        }
        assertEquals(List.of("load a"), rec.events());
    }

    @Test
    void concurrentRequestsLoadOnceAndAFailedLoadFreesItsPlace() throws Exception {
        rec.gate = new CountDownLatch(1);
        List<Future<ModelCache.Lease>> leases = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            leases.add(async(() -> lease("a", 1)));
        }
        Thread.sleep(200);
        rec.gate.countDown();
        for (Future<ModelCache.Lease> f : leases) {
            f.get(5, TimeUnit.SECONDS).close();
        }
        assertEquals(1, rec.count("load a"));

        rec.fail = "bad";
        assertThrows(IllegalStateException.class, () -> lease("bad", 1));
        try (ModelCache.Lease b = async(() -> lease("b", 1)).get(5, TimeUnit.SECONDS)) {
            assertTrue(b.loadedNow(), "the failed load holds no place");
        }
    }

    @Test
    void closeAllClosesALeasedModelOnlyWhenReleased() throws Exception {
        ModelCache.Lease a = lease("a", 1);
        lease("b", 2).close();
        cache.closeAll();
        assertEquals(List.of("load a", "load b", "close b"), rec.events());
        a.close();
        a.close();
        assertEquals(List.of("load a", "load b", "close b", "close a"), rec.events(), "closing a lease twice is harmless");
        assertTrue(lease("a", 1).loadedNow(), "forgotten models load again");
    }
}
