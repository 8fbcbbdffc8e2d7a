package dev.mergeval.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.checkpoint.DType;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.RuntimeOptions;
import dev.mergeval.runtime.TinyModels;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ModelSource}: each kind parsed from its text and printed back as the same text, bad input
 * named as before the sources were typed, and every kind surviving Java serialization (the way Spark
 * ships it to executors), a merge loading the same weights after the trip.
 */
class ModelSourceTest {

    private static final Configuration CONF = new Configuration();

    private static final String LINEAR = "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 0.5}\n"
            + "  - model: b\n    parameters: {weight: 0.5}\n";

    @TempDir
    Path tmp;

    @Test
    void aPathIsADirectoryWithoutLookingAtIt() {
        String text = tmp.resolve("no/such/model").toString();
        ModelSource s = ModelSource.parse(text, CONF);
        assertEquals(new ModelSource.Directory(text), s);
        assertEquals(text, s.text());
        assertEquals(text, s.toString());
    }

    @Test
    void basePlusAdapterSplitsWhereTheAdapterIs() throws IOException {
        Path base = Files.createDirectories(tmp.resolve("base"));
        Path adapter = Files.createDirectories(tmp.resolve("adapter"));
        Files.writeString(adapter.resolve("adapter_config.json"), "{}");
        String text = base + "+" + adapter;
        ModelSource s = ModelSource.parse(text, CONF);
        assertEquals(new ModelSource.WithAdapter(base.toString(), adapter.toString()), s);
        assertEquals(text, s.text());
    }

    @Test
    void aPathWithAPlusThatExistsIsADirectory() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("model+v2"));
        assertEquals(new ModelSource.Directory(dir.toString()), ModelSource.parse(dir.toString(), CONF));
    }

    @Test
    void aPlusThatNamesNothingIsBadInputAsTheCheckpointReaderSaysIt() {
        String text = tmp.resolve("base") + "+" + tmp.resolve("adapter");
        BadInputException e = assertThrows(BadInputException.class, () -> ModelSource.parse(text, CONF));
        assertEquals(text + ": not found", e.getMessage());
    }

    @Test
    void mergeWithoutSeedHasTheDefaultAndPrintsNone() throws IOException {
        Path yaml = Files.writeString(tmp.resolve("linear.yaml"), LINEAR);
        String text = "merge:" + yaml;
        ModelSource.MergeOnLoad m = assertInstanceOf(ModelSource.MergeOnLoad.class, ModelSource.parse(text, CONF));
        assertEquals(yaml.toString(), m.location());
        assertEquals(KeyedRandom.DEFAULT_SEED, m.seed());
        assertFalse(m.seedInText());
        assertEquals("linear", m.config().mergeMethod());
        assertEquals(yaml.toString(), m.config().sourceName());
        assertEquals(text, m.text());
    }

    @Test
    void mergeWithSeedKeepsItInTheText() throws IOException {
        Path yaml = Files.writeString(tmp.resolve("linear.yaml"), LINEAR);
        for (long seed : new long[] {0, 7, -3}) {
            String text = "merge:" + yaml + "#seed=" + seed;
            ModelSource.MergeOnLoad m = assertInstanceOf(ModelSource.MergeOnLoad.class, ModelSource.parse(text, CONF));
            assertEquals(seed, m.seed());
            assertEquals(yaml.toString(), m.location());
            assertEquals(text, m.text());
        }
        assertEquals("merge:" + yaml + "#seed=5", new ModelSource.MergeOnLoad(
                ((ModelSource.MergeOnLoad) ModelSource.parse("merge:" + yaml, CONF)).config(), yaml.toString(), 5).text());
    }

    @Test
    void aMissingMergeConfigIsBadInputNamingIt() {
        Path yaml = tmp.resolve("none.yaml");
        BadInputException e = assertThrows(BadInputException.class,
                () -> ModelSource.parse("merge:" + yaml + "#seed=3", CONF));
        assertEquals("merge config not found: " + yaml, e.getMessage());
    }

    @Test
    void anInvalidMergeConfigIsBadInputNamingTheFileAndKey() throws IOException {
        Path yaml = Files.writeString(tmp.resolve("bad.yaml"), LINEAR + "slices: []\n");
        BadInputException e = assertThrows(BadInputException.class, () -> ModelSource.parse("merge:" + yaml, CONF));
        assertTrue(e.getMessage().startsWith(yaml + ": slices"), e.getMessage());
        Path unknown = Files.writeString(tmp.resolve("unknown.yaml"), LINEAR.replace("linear", "average"));
        e = assertThrows(BadInputException.class, () -> ModelSource.parse("merge:" + unknown, CONF));
        assertTrue(e.getMessage().startsWith(unknown + ": merge_method"), e.getMessage());
    }

    @Test
    void aSeedBeyondALongIsBadInput() throws IOException {
        Path yaml = Files.writeString(tmp.resolve("linear.yaml"), LINEAR);
        String text = "merge:" + yaml + "#seed=99999999999999999999";
        BadInputException e = assertThrows(BadInputException.class, () -> ModelSource.parse(text, CONF));
        assertTrue(e.getMessage().startsWith(text), e.getMessage());
    }

    @Test
    void pathsResolveWithTheSyntaxKept() throws IOException {
        Path base = tmp.toAbsolutePath();
        java.util.function.UnaryOperator<String> abs = p -> p.startsWith("/") || p.contains("://") ? p
                : base.resolve(p).toString();
        assertEquals(base.resolve("m").toString(), ModelSource.resolvePaths("m", abs));
        assertEquals("merge:" + base.resolve("c.yaml") + "#seed=007",
                ModelSource.resolvePaths("merge:c.yaml#seed=007", abs));
        assertEquals("merge:" + base.resolve("c.yaml"), ModelSource.resolvePaths("merge:c.yaml", abs));
        assertEquals(base.resolve("b") + "+" + base.resolve("a"), ModelSource.resolvePaths("b+a", abs));
        Files.createDirectories(base.resolve("b+a"));
        assertEquals(base.resolve("b+a").toString(), ModelSource.resolvePaths("b+a", abs));
        assertEquals("s3a://x/b+s3a://x/a", ModelSource.resolvePaths("s3a://x/b+s3a://x/a", abs));
    }

    @Test
    void directoryAndAdapterSurviveSerialization() throws Exception {
        for (ModelSource s : new ModelSource[] {new ModelSource.Directory("hdfs://nn/models/x"),
                new ModelSource.WithAdapter("/models/base", "s3a://b/adapter")}) {
            ModelSource copy = roundTrip(s);
            assertNotSame(s, copy);
            assertEquals(s, copy);
            assertEquals(s.text(), copy.text());
        }
    }

    /** A merge shipped to an executor: the same config, location, seed and text, and the same weights once loaded. */
    @Test
    void aMergeSurvivesSerializationAndLoadsTheSameWeights() throws Exception {
        Path base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.BF16, 1, Long.MAX_VALUE);
        Path tuned = TinyModels.write(tmp.resolve("tuned"), TinyModels.llamaConfig(), DType.BF16, 2, Long.MAX_VALUE);
        Path yaml = Files.writeString(tmp.resolve("dare.yaml"), "merge_method: dare_ties\nbase_model: " + base
                + "\nmodels:\n  - model: " + tuned + "\n    parameters: {weight: 0.7, density: 0.5}\n");
        ModelSource.MergeOnLoad m = (ModelSource.MergeOnLoad) ModelSource.parse("merge:" + yaml + "#seed=9", CONF);
        ModelSource.MergeOnLoad copy = (ModelSource.MergeOnLoad) roundTrip(m);
        assertEquals(m.text(), copy.text());
        assertEquals(m.location(), copy.location());
        assertEquals(m.seed(), copy.seed());
        assertEquals(m.config().normalizedYaml(), copy.config().normalizedYaml());
        assertEquals(m.config().method().getClass(), copy.config().method().getClass());
        try (DjlLanguageModel a = (DjlLanguageModel) ModelSources.load(m, CONF, RuntimeOptions.cpu());
                DjlLanguageModel b = (DjlLanguageModel) ModelSources.load(copy, CONF, RuntimeOptions.cpu())) {
            assertEquals(m.text(), b.id());
            assertEquals(a.parameters().keySet(), b.parameters().keySet());
            a.parameters().forEach((name, array) ->
                    assertArrayEquals(array.toFloatArray(), b.parameters().get(name).toFloatArray(), 0f, name));
        }
    }

    private static ModelSource roundTrip(ModelSource s) throws IOException, ClassNotFoundException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(s);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (ModelSource) in.readObject();
        }
    }
}
