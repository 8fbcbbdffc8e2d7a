package dev.mergeval.source;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.merge.MergeConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/** The text syntax of {@link ModelSource}: {@link ModelSource#parse} and {@link ModelSource#resolvePaths}. */
final class ModelSourceParser {

    private static final Pattern SEED_SUFFIX = Pattern.compile(Pattern.quote(ModelSource.SEED) + "(-?\\d+)$");

    private ModelSourceParser() {
    }

    static ModelSource parse(String text, Configuration conf) {
        if (text.startsWith(ModelSource.MERGE_PREFIX)) {
            String location = text.substring(ModelSource.MERGE_PREFIX.length());
            long seed = KeyedRandom.DEFAULT_SEED;
            Matcher m = SEED_SUFFIX.matcher(location);
            boolean seedInText = m.find();
            if (seedInText) {
                try {
                    seed = Long.parseLong(m.group(1));
                } catch (NumberFormatException e) {
                    throw new BadInputException(text + ": the seed is not a 64-bit integer", e);
                }
                location = location.substring(0, m.start());
            }
            MergeConfig config = MergeConfig.parse(readConfig(location, conf), location, location);
            return new ModelSource.MergeOnLoad(config, location, seed, seedInText);
        }
        if (text.contains("+")) {
            int plus = Checkpoint.adapterSplit(text, conf);
            if (plus > 0) {
                return new ModelSource.WithAdapter(text.substring(0, plus), text.substring(plus + 1));
            }
        }
        return new ModelSource.Directory(text);
    }

    static String resolvePaths(String text, UnaryOperator<String> path) {
        if (text.startsWith(ModelSource.MERGE_PREFIX)) {
            String rest = text.substring(ModelSource.MERGE_PREFIX.length());
            int hash = rest.lastIndexOf(ModelSource.SEED);
            String file = hash < 0 ? rest : rest.substring(0, hash);
            return ModelSource.MERGE_PREFIX + path.apply(file) + (hash < 0 ? "" : rest.substring(hash));
        }
        String whole = path.apply(text);
        int plus = text.lastIndexOf('+');
        if (plus <= 0 || HadoopFs.hasScheme(text) || Files.exists(java.nio.file.Path.of(whole))) {
            return whole;
        }
        return path.apply(text.substring(0, plus)) + "+" + path.apply(text.substring(plus + 1));
    }

    private static String readConfig(String location, Configuration conf) {
        Path p = new Path(location);
        try (InputStream in = p.getFileSystem(conf).open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.FileNotFoundException e) {
            throw new BadInputException("merge config not found: " + location, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + location, e);
        }
    }
}
