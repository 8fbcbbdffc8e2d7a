package dev.mergeval.jobs.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.mergeval.jobs.OutputLocation;
import dev.mergeval.merge.MergeConfig;
import dev.mergeval.source.ModelSource;
import dev.mergeval.sweep.SweepPoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The source a sweep evaluates for a point: an end point's model as parsed, a merge point's config
 * as a value built from the point itself, never read back from the file the sweep writes beside it,
 * with the text the records and results have always shown.
 */
class PointModelSourceTest {

    @TempDir
    Path tmp;

    @Test
    void aMergePointIsItsParsedConfigWithTheTextOfItsFile() {
        SweepPoint point = SweepPoint.merge("ties", "/m/aligned", "/m/tuned", 0.3, Map.of("density", 0.5), 7, "suite");
        org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(tmp.resolve("points/" + point.id()).toUri());
        ModelSource.MergeOnLoad m = assertInstanceOf(ModelSource.MergeOnLoad.class,
                SweepJob.modelSource(point, dir, new Configuration()));
        String location = OutputLocation.name(new org.apache.hadoop.fs.Path(dir, SweepJob.MERGE_CONFIG));
        assertFalse(Files.exists(tmp.resolve("points")), "nothing was written or read");
        assertEquals("merge:" + location + "#seed=7", m.text());
        assertEquals(location, m.location());
        assertEquals(7, m.seed());
        assertEquals("ties", m.config().mergeMethod());
        assertEquals(location, m.config().sourceName());
        assertEquals(MergeConfig.parse(point.toMergekitYaml(), location).normalizedYaml(), m.config().normalizedYaml());
    }

    @Test
    void anEndPointIsItsModel() {
        SweepPoint aligned = SweepPoint.aligned("/m/aligned", 7, "suite");
        assertEquals(new ModelSource.Directory("/m/aligned"),
                SweepJob.modelSource(aligned, new org.apache.hadoop.fs.Path(tmp.toUri()), new Configuration()));
    }
}
