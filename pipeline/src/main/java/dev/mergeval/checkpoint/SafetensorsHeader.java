package dev.mergeval.checkpoint;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Shapes;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
     * it in errors. Read as a stream of tokens into the tensors' records, not as a tree: a header
     * holds one entry per tensor (tens of thousands in a mixture of experts), and the tree's maps and
     * nodes cost several times the records they give.
     */
    static SafetensorsHeader parse(byte[] json, long fileLength, String file) {
        checkHeaderLength(json.length, fileLength, file);
        String what = file + ": header";
        long dataLength = fileLength - 8 - json.length;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        CharBuffer chars = utf8(json, what);
        try (JsonParser p = Json.MAPPER.getFactory()
                .createParser(chars.array(), chars.arrayOffset() + chars.position(), chars.remaining())) {
            // Duplicates are found here, naming the key as Jackson does, without its set per entry.
            p.disable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new BadInputException(what + ": expected a JSON object");
            }
            Set<String> names = new HashSet<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = unicode(p.currentName(), what);
                if (!names.add(name)) {
                    throw duplicate(what, name);
                }
                p.nextToken();
                if (METADATA_KEY.equals(name)) {
                    readMetadata(p, metadata, file, what);
                } else {
                    tensors.add(readTensor(name, p, dataLength, file, what));
                }
            }
            // The reference reader (serde_json::from_str) takes the object and whitespace, nothing after.
            if (p.nextToken() != null) {
                throw new BadInputException(what + ": not valid JSON: characters after the header's object");
            }
        } catch (JsonProcessingException e) {
            throw new BadInputException(what + ": not valid JSON: " + Json.firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new BadInputException(what + ": not valid JSON: " + Json.firstLine(e.getMessage()));
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

    /**
     * The header's characters, strictly decoded: the JSON is read from characters because Jackson's
     * byte parser keeps every key in its table of names ({@link dev.mergeval.common.Mappers#DISTINCT_KEYS}).
     */
    private static CharBuffer utf8(byte[] json, String what) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json));
        } catch (CharacterCodingException e) {
            throw new BadInputException(what + ": not valid JSON: not UTF-8 (" + e.getMessage() + ")");
        }
    }

    /**
     * {@code text}, refused where it holds half of a UTF-16 surrogate pair (a lone {@code \\udc80}
     * escape): no Unicode text, which the reference reader refuses and which would be written out
     * as another name ('?').
     */
    private static String unicode(String text, String what) {
        int i = Mappers.loneSurrogate(text);
        if (i >= 0) {
            throw new BadInputException(what + ": not valid JSON: '" + text.substring(0, i) + "' is followed by a"
                    + " lone surrogate escape (\\u" + Integer.toHexString(text.charAt(i)) + "), which is not Unicode text");
        }
        return text;
    }

    private static BadInputException duplicate(String what, String key) {
        return new BadInputException(what + ": not valid JSON: Duplicate field '" + key + "'");
    }

    /** The {@code __metadata__} object at the parser's current token. */
    private static void readMetadata(JsonParser p, Map<String, String> out, String file, String what)
            throws IOException {
        // null is the reference's Option::None: no metadata
        if (p.currentToken() == JsonToken.VALUE_NULL) {
            return;
        }
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new BadInputException(file + ": " + METADATA_KEY + " must be a JSON object or null");
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = unicode(p.currentName(), what);
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new BadInputException(file + ": " + METADATA_KEY + " key '" + key + "' must map to a string");
            }
            if (out.put(key, unicode(p.getText(), what)) != null) {
                throw duplicate(what, key);
            }
        }
    }

    /**
     * The entry of tensor {@code name} at the parser's current token. Its fields come in any order;
     * they are checked once the entry is read, in a fixed order, so a bad entry gets the same message
     * whatever its fields' order. Fields other than the three are skipped, as the spec allows.
     */
    private static TensorInfo readTensor(String name, JsonParser p, long dataLength, String file, String what)
            throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new BadInputException(where(file, name) + ": entry must be a JSON object");
        }
        String dtypeText = null;
        boolean dtypeSeen = false;
        Integers shapeField = null;
        Integers offsetsField = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            switch (field) {
                case "dtype" -> {
                    if (dtypeSeen) {
                        throw duplicate(what, field);
                    }
                    dtypeSeen = true;
                    dtypeText = value == JsonToken.VALUE_STRING ? p.getText() : null;
                    p.skipChildren();
                }
                case "shape" -> {
                    if (shapeField != null) {
                        throw duplicate(what, field);
                    }
                    shapeField = Integers.read(p);
                }
                case "data_offsets" -> {
                    if (offsetsField != null) {
                        throw duplicate(what, field);
                    }
                    offsetsField = Integers.read(p);
                }
                default -> p.skipChildren();
            }
        }
        if (dtypeText == null) {
            throw new BadInputException(where(file, name) + ": missing or non-string 'dtype'");
        }
        DType dtype;
        try {
            dtype = DType.fromSafetensors(dtypeText);
        } catch (BadInputException e) {
            throw new BadInputException(where(file, name) + ": unknown dtype '" + dtypeText + "'");
        }
        long[] shape = longArray(shapeField, -1, "shape", file, name);
        long[] offsets = longArray(offsetsField, 2, "data_offsets", file, name);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw new BadInputException(where(file, name) + ": data_offsets [" + begin + ", " + end
                    + "] end before begin");
        }
        if (end > dataLength) {
            throw new BadInputException(where(file, name) + ": data_offsets [" + begin + ", " + end
                    + "] outside the data section (" + dataLength + " bytes)");
        }
        long bytes;
        try {
            bytes = Shapes.byteCount(shape, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new BadInputException(where(file, name) + ": shape " + Arrays.toString(shape)
                    + " overflows a 64-bit byte count");
        }
        if (bytes != end - begin) {
            throw new BadInputException(where(file, name) + ": shape " + Arrays.toString(shape)
                    + " of " + dtype + " needs " + bytes + " bytes but data_offsets span "
                    + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static String where(String file, String name) {
        return file + ": tensor '" + name + "'";
    }

    /**
     * A field that must be an array of non-negative 64-bit integers, as read: null where it is not
     * an array, else its values and the first entry that is not such an integer (as JSON), if any.
     */
    private record Integers(long[] values, int size, String firstBad) {
        /** Reads one entry of an array mid-header: the rest of the header follows it. */
        private static final ObjectReader ENTRY = Json.MAPPER.reader()
                .without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

        static Integers read(JsonParser p) throws IOException {
            if (p.currentToken() != JsonToken.START_ARRAY) {
                p.skipChildren();
                return null;
            }
            long[] values = new long[4];
            int size = 0;
            String firstBad = null;
            while (p.nextToken() != JsonToken.END_ARRAY) {
                boolean ok = p.currentToken() == JsonToken.VALUE_NUMBER_INT
                        && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER && p.getLongValue() >= 0;
                if (ok) {
                    if (size == values.length) {
                        values = Arrays.copyOf(values, size * 2);
                    }
                    values[size] = p.getLongValue();
                } else if (firstBad == null) {
                    firstBad = ENTRY.readTree(p).toString();
                } else {
                    p.skipChildren();
                }
                size++;
            }
            return new Integers(values, size, firstBad);
        }
    }

    private static long[] longArray(Integers field, int requiredSize, String name, String file, String tensor) {
        if (field == null) {
            throw new BadInputException(where(file, tensor) + ": missing or non-array '" + name + "'");
        }
        if (requiredSize >= 0 && field.size() != requiredSize) {
            throw new BadInputException(where(file, tensor) + ": '" + name + "' must have " + requiredSize
                    + " entries, has " + field.size());
        }
        if (field.firstBad() != null) {
            throw new BadInputException(where(file, tensor) + ": '" + name + "' entry " + field.firstBad()
                    + " is not a non-negative 64-bit integer");
        }
        return Arrays.copyOf(field.values(), field.size());
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
