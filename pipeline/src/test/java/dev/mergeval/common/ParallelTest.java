package dev.mergeval.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ParallelTest {

    @Test
    void resultsComeBackInTheTasksOrderWhateverTheThreadCount() {
        List<Integer> items = IntStream.range(0, 64).boxed().toList();
        List<Integer> expected = items.stream().map(i -> i * i).toList();
        for (int threads : new int[] {1, 3, 16}) {
            // Later items finish first, so a completion-order result would be reversed.
            assertEquals(expected, Parallel.map(items, threads, i -> {
                sleep(64 - i);
                return i * i;
            }), threads + " threads");
        }
    }

    @Test
    void theUsersBadInputSurfacesFromUnderAWrapper() {
        BadInputException bad = new BadInputException("x.yaml: models: required");
        BadInputException thrown = assertThrows(BadInputException.class, () -> Parallel.map(List.of(1, 2), 2, i -> {
            throw new IllegalStateException("wrapped", bad);
        }));
        assertEquals(bad, thrown);
    }

    @Test
    void aCheckedFailureIsWrappedAndAnUncheckedOneRethrownAsIs() {
        Callable<Integer> io = () -> {
            throw new IOException("disk");
        };
        IllegalStateException wrapped = assertThrows(IllegalStateException.class, () -> Parallel.call(List.of(io), 2));
        assertEquals("disk", wrapped.getCause().getMessage());
        ArithmeticException same = new ArithmeticException("/ by zero");
        assertEquals(same, assertThrows(ArithmeticException.class, () -> Parallel.map(List.of(1), 1, i -> {
            throw same;
        })));
    }

    private static void sleep(int millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
