package dev.mergeval.jobs.eval;

import dev.mergeval.engine.EngineSpec;
import dev.mergeval.engine.OpenAiLanguageModel;
import dev.mergeval.engine.ServerLauncher;
import dev.mergeval.jobs.FailFast;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;

/**
 * Executor side of an evaluation on launched servers (a sweep point with {@code engine: {kind:
 * openai, launch: ...}}): each task takes its share of the units, starts the engine's server for the
 * point where it runs ({@link ServerLauncher}, a free local port), evaluates its units through it
 * ({@link RunUnit#rows}), and stops it, so every executor slot serves the point on its own machine
 * (its GPU) and no request leaves the host. The point itself is read from {@code model}, a location
 * every executor reads (the sweep materializes it there first).
 */
final class LaunchedUnits implements FlatMapFunction<Iterator<EvalUnit>, Row> {
    private static final long serialVersionUID = 1L;

    private final RunUnit units;
    private final EngineSpec launch;
    private final String model;
    private final LongAccumulator launches;

    LaunchedUnits(RunUnit units, EngineSpec launch, String model, LongAccumulator launches) {
        this.units = units;
        this.launch = launch;
        this.model = model;
        this.launches = launches;
    }

    @Override
    public Iterator<Row> call(Iterator<EvalUnit> partition) throws InterruptedException {
        List<EvalUnit> mine = new ArrayList<>();
        partition.forEachRemaining(mine::add);
        if (mine.isEmpty()) {
            return java.util.Collections.emptyIterator();
        }
        try {
            RunUnit.useJobHadoopSettings();
            List<Row> rows = new ArrayList<>();
            try (ServerLauncher server = ServerLauncher.start(launch, model);
                 OpenAiLanguageModel served = new OpenAiLanguageModel(server.engine())) {
                launches.add(1);
                for (EvalUnit unit : mine) {
                    rows.addAll(units.rows(unit, served));
                }
            }
            return rows.iterator();
        } catch (RuntimeException e) {
            throw FailFast.unwrapBadInput(e);
        }
    }
}
