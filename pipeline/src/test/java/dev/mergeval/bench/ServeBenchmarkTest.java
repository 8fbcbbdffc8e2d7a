package dev.mergeval.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.runtime.TestModels;
import dev.mergeval.source.ModelSource;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code mergeval bench serve} runs end to end on the toy model; its figures are the benchmark's business. */
class ServeBenchmarkTest {

    @Test
    void servedTextsAreTheBatchGenerationsTexts() throws Exception {
        ModelSource toy = new ModelSource.Directory(TestModels.projectRoot().resolve("models/toy/aligned").toString());
        List<ServeBenchmark.Row> rows = ServeBenchmark.run(toy, List.of(1, 4), 8, 8, 4, 1, 1);
        assertEquals(2, rows.size());
        for (ServeBenchmark.Row r : rows) {
            assertTrue(r.identical(), "served texts equal the batch generation's at " + r.clients() + " clients");
            assertTrue(r.tokens() > 0 && r.serveTps() > 0 && r.batchTps() > 0);
        }
        assertEquals(1, rows.get(0).largestBatch());
    }

    @Test
    void promptsAreDistinct() {
        List<String> p = ServeBenchmark.prompts(100);
        assertEquals(100, p.stream().distinct().count());
    }
}
