package dev.mergeval.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Shapes;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The validated header of a safetensors file.
 *
 * <p>Layout (safetensors spec): an unsigned little-endian u64 {@code N}, then {@code N} bytes of
 * UTF-8 JSON, then the data section. The JSON maps tensor names to
 * {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the data section)
 * and may hold {@code "__metadata__"}: a string-to-string map.
 *
 * <p>Checked before anything is allocated from the file's numbers: {@code N} is at least 2, at most
 * {@link #MAX_HEADER_BYTES} and inside the file; the JSON is one object without duplicate keys;
 * each dtype is known; each shape is non-negative and its element count times the dtype size
 * equals the span (overflow-checked); and, as the reference implementation requires, the spans
 * sorted by offset tile the data section exactly: no overlap, no gap, nothing after the last one.
 */
final class SafetensorsHeader {

    /** The reference implementation's cap on the header JSON (100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private final String file;
    private final long fileLength;
    private final long headerLength;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> byName;
    private final Map<String, String> metadata;

    private SafetensorsHeader(String file, long fileLength, long headerLength,
                              List<TensorInfo> tensors, Map<String, String> metadata) {
        this.file = file;
        this.fileLength = fileLength;
        this.headerLength = headerLength;
        this.tensors = List.copyOf(tensors);
        Map<String, TensorInfo> m = new LinkedHashMap<>();
        for (TensorInfo t : tensors) {
            m.put(t.name(), t);
        }
        this.byName = Collections.unmodifiableMap(m);
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** Reads and validates the header of {@code file}; only the length prefix and JSON are read. */
    public static SafetensorsHeader read(FileSystem fs, Path file) {
        FileStatus st;
        try {
            st = fs.getFileStatus(file);
        } catch (FileNotFoundException e) {
            throw new BadInputException(file + ": not found");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + file, e);
        }
        if (st.isDirectory()) {
            throw new BadInputException(file + ": is a directory, not a safetensors file");
        }
        try (FSDataInputStream in = fs.open(file)) {
            return read(in, st.getLen(), file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Reads and validates the header from an open stream of a file of {@code fileLength} bytes. */
    static SafetensorsHeader read(FSDataInputStream in, long fileLength, String file)
            throws IOException {
        if (fileLength < 8) {
            throw new BadInputException(file + ": " + fileLength
                    + " bytes, too short for a safetensors header (8-byte length prefix)");
        }
        byte[] prefix = new byte[8];
        in.readFully(0, prefix, 0, 8);
        long n = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
        checkHeaderLength(n, fileLength, file);
        byte[] json = new byte[(int) n];
        in.readFully(8, json, 0, json.length);
        return parse(json, fileLength, file);
    }

    private static void checkHeaderLength(long n, long fileLength, String file) {
        // n is an unsigned u64 on disk: a negative long means more than 2^63, certainly too large.
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new BadInputException(file + ": header length " + Long.toUnsignedString(n)
                    + " exceeds the " + MAX_HEADER_BYTES + "-byte cap");
        }
        if (n < 2) {
            throw new BadInputException(file + ": header length " + n
                    + " is too small for a JSON object");
        }
        if (n > fileLength - 8) {
            throw new BadInputException(file + ": header length " + n
                    + " runs past the end of the file (" + fileLength + " bytes)");
        }
    }

    /**
     * Validates header JSON of a file whose total length is {@code fileLength}; {@code file} names
     * it in errors.
     */
    static SafetensorsHeader parse(byte[] json, long fileLength, String file) {
        checkHeaderLength(json.length, fileLength, file);
        ObjectNode root = Json.parseObject(json, file + ": header");
        long dataLength = fileLength - 8 - json.length;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        Iterator<Map.Entry<String, JsonNode>> it = root.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (METADATA_KEY.equals(e.getKey())) {
                readMetadata(e.getValue(), metadata, file);
            } else {
                tensors.add(readTensor(e.getKey(), e.getValue(), dataLength, file));
            }
        }
        // Stable: zero-length tensors sharing an offset keep their header order.
        tensors.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        TensorInfo prev = null;
        for (TensorInfo t : tensors) {
            if (t.begin() < expected) {
                throw new BadInputException(file + ": tensor '" + t.name() + "' span [" + t.begin()
                        + ", " + t.end() + ") overlaps tensor '" + prev.name() + "' span ["
                        + prev.begin() + ", " + prev.end() + ")");
            }
            if (t.begin() > expected) {
                throw new BadInputException(file + ": tensor '" + t.name() + "' starts at "
                        + t.begin() + " but the previous tensor ends at " + expected
                        + " (gap in the data section)");
            }
            expected = t.end();
            prev = t;
        }
        if (expected != dataLength) {
            throw new BadInputException(file + ": data section is " + dataLength
                    + " bytes but the tensors cover " + expected);
        }
        return new SafetensorsHeader(file, fileLength, json.length, tensors, metadata);
    }

    private static void readMetadata(JsonNode node, Map<String, String> out, String file) {
        if (!node.isObject()) {
            throw new BadInputException(file + ": " + METADATA_KEY + " must be a JSON object");
        }
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new BadInputException(file + ": " + METADATA_KEY + " key '" + e.getKey()
                        + "' must map to a string");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static TensorInfo readTensor(String name, JsonNode node, long dataLength, String file) {
        String where = file + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new BadInputException(where + ": entry must be a JSON object");
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new BadInputException(where + ": missing or non-string 'dtype'");
        }
        DType dtype;
        try {
            dtype = DType.fromSafetensors(dt.textValue());
        } catch (BadInputException e) {
            throw new BadInputException(where + ": unknown dtype '" + dt.textValue() + "'");
        }
        long[] shape = longArray(node.get("shape"), -1, "shape", where);
        long[] offsets = longArray(node.get("data_offsets"), 2, "data_offsets", where);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw new BadInputException(where + ": data_offsets [" + begin + ", " + end
                    + "] end before begin");
        }
        if (end > dataLength) {
            throw new BadInputException(where + ": data_offsets [" + begin + ", " + end
                    + "] outside the data section (" + dataLength + " bytes)");
        }
        long bytes;
        try {
            bytes = Shapes.byteCount(shape, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new BadInputException(where + ": shape " + Arrays.toString(shape)
                    + " overflows a 64-bit byte count");
        }
        if (bytes != end - begin) {
            throw new BadInputException(where + ": shape " + Arrays.toString(shape)
                    + " of " + dtype + " needs " + bytes + " bytes but data_offsets span "
                    + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] longArray(JsonNode node, int requiredSize, String field, String where) {
        if (node == null || !node.isArray()) {
            throw new BadInputException(where + ": missing or non-array '" + field + "'");
        }
        if (requiredSize >= 0 && node.size() != requiredSize) {
            throw new BadInputException(where + ": '" + field + "' must have " + requiredSize
                    + " entries, has " + node.size());
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new BadInputException(where + ": '" + field + "' entry " + v
                        + " is not a non-negative 64-bit integer");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    /** The file this header was read from (as given). */
    public String file() {
        return file;
    }

    /** Tensors in data-section order (by offset). */
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /** The tensor called {@code name}, or null. */
    public TensorInfo tensor(String name) {
        return byName.get(name);
    }

    /** The {@code __metadata__} map, in header order (empty if absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Length of the header JSON (the u64 prefix's value). */
    public long headerLength() {
        return headerLength;
    }

    /** Absolute file position of the data section: {@code 8 + headerLength}. */
    public long dataOffset() {
        return 8 + headerLength;
    }

    /** Length of the whole file. */
    public long fileLength() {
        return fileLength;
    }
}
