package dev.mergeval.train;

import dev.mergeval.common.BadInputException;
import dev.mergeval.train.data.TrainingSequence;
import java.util.List;

/**
 * SPF (safety-preserving fine-tuning, arXiv 2601.10141) settings: the safety sequences (refusals
 * to harmful requests), the subspace size per matrix (a fixed {@code rank}, or the smallest rank
 * whose CER reaches {@code cer}), and how often the subspace is re-estimated at the current
 * weights ({@code refresh} steps; 0 = once, at the starting weights).
 *
 * @param rank subspace rank, or 0 when {@code cer} chooses it
 * @param cer target cumulative explained ratio in (0, 1], or NaN when {@code rank} is fixed
 */
public record SpfConfig(List<TrainingSequence> safety, int rank, double cer, int refresh) {

    public static final int DEFAULT_RANK = 8;
    public static final int DEFAULT_REFRESH = 10;

    public SpfConfig {
        safety = List.copyOf(safety);
        if (safety.isEmpty()) {
            throw new BadInputException("--spf-safety-data holds no assistant turn");
        }
        if (rank == 0 == Double.isNaN(cer)) {
            throw new BadInputException("give one of --spf-rank and --spf-cer");
        }
        if (rank < 0) {
            throw new BadInputException("--spf-rank must be >= 1, got " + rank);
        }
        if (!Double.isNaN(cer) && !(cer > 0 && cer <= 1)) {
            throw new BadInputException("--spf-cer must be in (0, 1], got " + cer);
        }
        if (refresh < 0) {
            throw new BadInputException("--spf-refresh must be >= 0, got " + refresh);
        }
    }

    /** Whether the subspace is (re-)estimated before 0-based step {@code step}. */
    public boolean refreshesAt(int step) {
        return step == 0 || (refresh > 0 && step % refresh == 0);
    }
}
