package dev.mergeval.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Turns a location string into the right {@link Checkpoint}; see {@link Checkpoint#open}. */
final class CheckpointResolver {

    static final String SINGLE_FILE = "model.safetensors";
    static final String INDEX_FILE = "model.safetensors.index.json";
    static final String CONFIG_FILE = "config.json";
    static final String ADAPTER_CONFIG = "adapter_config.json";

    /** JSON side files (config, index) larger than this are refused rather than read. */
    static final long MAX_JSON_BYTES = 64L << 20;

    private static final Pattern URI_SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:");
    private static final Pattern SHARD_SET = Pattern.compile("(.*)-(\\d{1,9})-of-(\\d{1,9})\\.safetensors");
    /** Shard sets claiming more members than this are not expanded (the index is then trusted). */
    private static final long MAX_SHARDS = 100_000;
    private static final List<String> PICKLE_SUFFIXES =
            List.of(".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle");

    private CheckpointResolver() {
    }

    static Checkpoint open(String uri, Configuration conf) {
        if (uri == null || uri.isBlank()) {
            throw new BadInputException("empty checkpoint location");
        }
        Path path = null;
        FileSystem fs = null;
        FileStatus st = null;
        String unknownHost = null;
        try {
            path = new Path(uri);
            fs = HadoopFs.get(path, conf);
            st = statOrNull(fs, path);
        } catch (IllegalArgumentException e) {
            // Not a path as a whole (e.g. "BASE+s3a://b/adapter"); it may still split at a '+'.
            unknownHost = unknownHost(e);
        }
        if (st == null) {
            int plus;
            try {
                plus = adapterPlus(uri, conf);
            } catch (BadInputException notFound) {
                if (unknownHost == null) {
                    throw notFound;
                }
                throw new BadInputException(uri + ": unknown host '" + unknownHost + "' (an HDFS nameservice is"
                        + " defined by the cluster's hdfs-site.xml: point HADOOP_CONF_DIR at its folder)");
            }
            String adapter = uri.substring(plus + 1);
            Checkpoint base = open(uri.substring(0, plus), conf);
            try {
                return LoraCheckpoint.open(uri, base, adapter, conf);
            } catch (RuntimeException e) {
                base.close();
                throw e;
            }
        }
        Path qualified = fs.makeQualified(path);
        return st.isDirectory() ? openDirectory(uri, fs, qualified) : openFile(uri, fs, qualified);
    }

    /**
     * The host Hadoop could not resolve, where that is why {@code e} was thrown: HDFS's client
     * reports an unknown namenode host (or an HA nameservice missing from the settings) as an
     * {@link IllegalArgumentException} caused by an {@link UnknownHostException}.
     */
    private static String unknownHost(IllegalArgumentException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnknownHostException u) {
                return u.getMessage();
            }
        }
        return null;
    }

    /** See {@link Checkpoint#adapterSplit}. */
    static int adapterSplit(String uri, Configuration conf) {
        try {
            Path path = new Path(uri);
            if (statOrNull(HadoopFs.get(path, conf), path) != null) {
                return -1;
            }
        } catch (IllegalArgumentException e) {
            // Not a path as a whole; it may still split at a '+'.
        }
        return adapterPlus(uri, conf);
    }

    /** The rightmost {@code '+'} of {@code uri} followed by an adapter directory, for a location that names no path. */
    private static int adapterPlus(String uri, Configuration conf) {
        int plus = uri.lastIndexOf('+');
        while (plus > 0) {
            String adapter = uri.substring(plus + 1);
            if (!adapter.isEmpty() && isAdapterDir(adapter, conf)) {
                return plus;
            }
            plus = uri.lastIndexOf('+', plus - 1);
        }
        throw new BadInputException(uri + ": not found");
    }

    private static boolean isAdapterDir(String dir, Configuration conf) {
        try {
            Path p = new Path(dir);
            return isFile(HadoopFs.get(p, conf), new Path(p, ADAPTER_CONFIG));
        } catch (IllegalArgumentException | BadInputException e) {
            return false;
        }
    }

    private static Checkpoint openFile(String uri, FileSystem fs, Path file) {
        String name = file.getName();
        if (isPickle(name)) {
            throw pickleRefusal(file.toString());
        }
        Path dir = file.getParent();
        if (name.equals(INDEX_FILE)) {
            return openSharded(uri, fs, dir, file);
        }
        if (!name.endsWith(".safetensors")) {
            throw new BadInputException(file + ": not a .safetensors file or "
                    + INDEX_FILE + "; expected a model directory or a safetensors file");
        }
        return SafetensorsCheckpoint.open(uri, fs, dir, List.of(file), null, readConfig(fs, dir));
    }

    private static Checkpoint openDirectory(String uri, FileSystem fs, Path dir) {
        Path index = new Path(dir, INDEX_FILE);
        if (isFile(fs, index)) {
            return openSharded(uri, fs, dir, index);
        }
        Path single = new Path(dir, SINGLE_FILE);
        if (isFile(fs, single)) {
            return SafetensorsCheckpoint.open(uri, fs, dir, List.of(single), null,
                    readConfig(fs, dir));
        }
        List<String> safetensors = new ArrayList<>();
        List<String> pickles = new ArrayList<>();
        for (FileStatus f : list(fs, dir)) {
            String n = f.getPath().getName();
            if (n.endsWith(".safetensors")) {
                safetensors.add(n);
            } else if (isPickle(n)) {
                pickles.add(n);
            }
        }
        if (isFile(fs, new Path(dir, ADAPTER_CONFIG))) {
            // Its one adapter_model.safetensors would otherwise open as a model of lora_A/lora_B tensors.
            throw new BadInputException(dir + ": is a PEFT adapter, not a model; name it as BASE+" + dir
                    + " to apply it to its base model (its weights alone: " + new Path(dir, LoraAdapter.ADAPTER_WEIGHTS)
                    + ")");
        }
        if (safetensors.size() == 1) {
            Path only = new Path(dir, safetensors.get(0));
            return SafetensorsCheckpoint.open(uri, fs, dir, List.of(only), null,
                    readConfig(fs, dir));
        }
        if (!safetensors.isEmpty()) {
            throw new BadInputException(dir + ": " + safetensors.size()
                    + " .safetensors files but no " + INDEX_FILE + " to say how they form a model");
        }
        if (!pickles.isEmpty()) {
            throw pickleRefusal(new Path(dir, pickles.get(0)).toString());
        }
        throw new BadInputException(dir + ": no " + SINGLE_FILE + " or " + INDEX_FILE);
    }

    private static Checkpoint openSharded(String uri, FileSystem fs, Path dir, Path index) {
        ObjectNode root = Json.readObject(fs, index, MAX_JSON_BYTES);
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new BadInputException(index + ": missing 'weight_map' object");
        }
        if (wm.isEmpty()) {
            throw new BadInputException(index + ": 'weight_map' lists no tensor: a checkpoint of no weights");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        TreeSet<String> shardNames = new TreeSet<>();
        Iterator<Map.Entry<String, JsonNode>> it = wm.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new BadInputException(index + ": weight_map entry '" + e.getKey()
                        + "' must be a shard file name");
            }
            String shard = e.getValue().textValue();
            // Each name once (a model has a few shards and up to tens of thousands of tensors), and
            // named with the first tensor that gives it.
            if (!shardNames.contains(shard)) {
                checkShardName(index, e.getKey(), shard);
            }
            weightMap.put(e.getKey(), shard);
            shardNames.add(shard);
        }
        for (String s : shardNames) {
            if (!isFile(fs, new Path(dir, s))) {
                throw new BadInputException(index + ": shard '" + s + "' does not exist in " + dir);
            }
        }
        addSiblingShards(shardNames);
        List<Path> shards = new ArrayList<>();
        for (String s : shardNames) {
            Path p = new Path(dir, s);
            if (!isFile(fs, p)) {
                throw new BadInputException(index + ": shard set is incomplete: '" + s
                        + "' does not exist in " + dir);
            }
            shards.add(p);
        }
        return SafetensorsCheckpoint.open(uri, fs, dir, shards, weightMap, readConfig(fs, dir));
    }

    /**
     * Adds every member of each {@code NAME-0000i-of-0000N.safetensors} set the index names, so
     * that a shard whose tensors the index forgot is opened and reported, not silently skipped.
     */
    private static void addSiblingShards(TreeSet<String> shardNames) {
        for (String s : List.copyOf(shardNames)) {
            java.util.regex.Matcher m = SHARD_SET.matcher(s);
            if (m.matches()) {
                int width = m.group(2).length();
                long n = Long.parseLong(m.group(3));
                for (long i = 1; i <= n && n <= MAX_SHARDS; i++) {
                    shardNames.add(String.format("%s-%0" + width + "d-of-%s.safetensors",
                            m.group(1), i, m.group(3)));
                }
            }
        }
    }

    /**
     * A shard name must stay inside the model directory: relative, no scheme, no {@code .} or
     * {@code ..} segment, no backslash, and a {@code .safetensors} file.
     */
    private static void checkShardName(Path index, String tensor, String shard) {
        String why = null;
        if (shard.isEmpty()) {
            why = "is empty";
        } else if (shard.startsWith("/") || shard.startsWith("\\") || shard.contains("\\")) {
            why = "is an absolute path or contains a backslash";
        } else if (URI_SCHEME.matcher(shard).find()) {
            why = "is a URL or has a scheme";
        } else {
            for (String seg : shard.split("/", -1)) {
                if (seg.isEmpty() || seg.equals(".") || seg.equals("..")) {
                    why = "escapes the model directory or has an empty, '.' or '..' segment";
                    break;
                }
            }
        }
        if (why == null && isPickle(shard)) {
            throw pickleRefusal(index + " -> " + shard);
        }
        if (why == null && !shard.endsWith(".safetensors")) {
            why = "is not a .safetensors file";
        }
        if (why != null) {
            throw new BadInputException(index + ": shard name '" + shard + "' for tensor '"
                    + tensor + "' " + why);
        }
    }

    static ObjectNode readConfig(FileSystem fs, Path dir) {
        Path cfg = new Path(dir, CONFIG_FILE);
        return isFile(fs, cfg) ? Json.readObject(fs, cfg, MAX_JSON_BYTES) : null;
    }

    static boolean isPickle(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        for (String s : PICKLE_SUFFIXES) {
            if (n.endsWith(s)) {
                return true;
            }
        }
        return n.endsWith(".bin.index.json");
    }

    static BadInputException pickleRefusal(String file) {
        return new BadInputException(file + ": PyTorch pickle checkpoints are refused because"
                + " unpickling runs arbitrary code; convert it to safetensors first, e.g."
                + " python -c \"import torch; from safetensors.torch import save_file;"
                + " sd = torch.load('pytorch_model.bin', weights_only=True);"
                + " save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')\""
                + " or with transformers: AutoModelForCausalLM.from_pretrained(DIR)"
                + ".save_pretrained(OUT, safe_serialization=True)");
    }

    static FileStatus statOrNull(FileSystem fs, Path p) {
        try {
            return fs.getFileStatus(p);
        } catch (FileNotFoundException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + p, e);
        }
    }

    static boolean isFile(FileSystem fs, Path p) {
        FileStatus st = statOrNull(fs, p);
        return st != null && st.isFile();
    }

    private static FileStatus[] list(FileSystem fs, Path dir) {
        try {
            return fs.listStatus(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }
}
