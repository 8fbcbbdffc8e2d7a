package dev.mergeval.common;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.ObjectCodec;
import com.fasterxml.jackson.core.io.IOContext;
import com.fasterxml.jackson.core.util.JsonParserDelegate;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.TokenBuffer;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.io.Reader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.events.AliasEvent;
import org.yaml.snakeyaml.events.NodeEvent;

/**
 * Reads YAML as PyYAML (mergekit's reader) does where Jackson's YAML parser does not: an alias
 * ({@code *name}) is the node its anchor ({@code &name}) marked, where Jackson returns the string
 * {@code "name"} and a config silently means something else ({@code model: *base} became a model
 * called {@code base}); a tree's merge keys ({@code <<: *defaults}) are merged into their
 * mapping; and a second document is an error, not dropped. Scalars are typed by Jackson as before.
 */
public final class YamlReader {

    private static final String MERGE_KEY = "<<";
    /** YAML 1.1's spellings of infinity (group 1 its sign) and not-a-number (group 2). */
    private static final Pattern SPECIAL_FLOAT = Pattern.compile("([-+]?)\\.(?:inf|Inf|INF)|(\\.(?:nan|NaN|NAN))");

    private YamlReader() {
    }

    /**
     * {@code yaml} as a tree, aliases and merge keys resolved, and YAML's {@code .inf} and {@code .nan}
     * read as the doubles they are (the tree's reader checks its numbers: a record bound by
     * {@link #readValue} would take NaN as 0 in an integer field); null for an empty document. A
     * merge key that is not a mapping (or a list of them) is bad input naming {@code source}.
     */
    public static JsonNode readTree(ObjectMapper mapper, String yaml, String source) throws IOException {
        try (JsonParser p = parser(mapper, yaml, true)) {
            JsonNode root = mapper.readTree(p);
            single(p);
            return root == null ? null : mergeKeys(root, source);
        }
    }

    /** {@code yaml} bound to {@code type}, aliases resolved (a merge key is an unknown property there). */
    public static <T> T readValue(ObjectMapper mapper, String yaml, Class<T> type) throws IOException {
        try (JsonParser p = parser(mapper, yaml, false)) {
            T value = mapper.readValue(p, type);
            single(p);
            return value;
        }
    }

    /**
     * Nothing after the first document: PyYAML's {@code safe_load} refuses a stream of several
     * ({@code ---} between them), where Jackson would read the first and drop the others unread.
     */
    private static void single(JsonParser p) throws IOException {
        if (p.nextToken() != null) {
            throw new JsonParseException(p, "expected a single document, found another (---) after the first");
        }
    }

    /** A parser of {@code yaml} with {@code mapper}'s settings (a YAML mapper's) that resolves aliases. */
    private static JsonParser parser(ObjectMapper mapper, String yaml, boolean specialFloats) throws IOException {
        EventParser parser = (EventParser) new EventFactory((YAMLFactory) mapper.getFactory()).createParser(yaml);
        parser.specialFloats = specialFloats;
        return new Aliases(parser);
    }

    /** {@code from}'s settings, making {@link EventParser}s. */
    private static final class EventFactory extends YAMLFactory {
        private static final long serialVersionUID = 1L;

        EventFactory(YAMLFactory from) {
            super(from, null);
        }

        @Override
        protected YAMLParser _createParser(Reader r, IOContext ctxt) throws IOException {
            return new EventParser(ctxt, _parserFeatures, _yamlParserFeatures, _loaderOptions, _objectCodec, r);
        }
    }

    /**
     * Jackson's YAML parser with the anchor of its current node in view: its own
     * {@link YAMLParser#getCurrentAnchor} gives none for a scalar that is a mapping's value.
     */
    private static final class EventParser extends YAMLParser {
        /** Whether {@code .inf} and {@code .nan} are numbers ({@link #readTree}) or fail as Jackson fails. */
        boolean specialFloats;

        EventParser(IOContext ctxt, int parserFeatures, int yamlFeatures, LoaderOptions options, ObjectCodec codec,
                Reader r) {
            super(ctxt, parserFeatures, yamlFeatures, options, codec, r);
        }

        /**
         * YAML 1.1's infinities and not-a-number ({@code .inf}, {@code -.Inf}, {@code .NaN}, ...) as the
         * doubles PyYAML reads, where Jackson's parser matches them as floats and then fails to parse
         * them ("Malformed numeric value"): a config's reader can then name the key that holds one.
         */
        @Override
        protected void _parseNumericValue(int expType) throws IOException {
            if (specialFloats && currentToken() == JsonToken.VALUE_NUMBER_FLOAT && _textValue != null) {
                Matcher m = SPECIAL_FLOAT.matcher(_textValue);
                if (m.matches()) {
                    _numberDouble = m.group(2) != null ? Double.NaN
                            : "-".equals(m.group(1)) ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
                    _numberString = null;
                    _numTypesValid = NR_DOUBLE;
                    return;
                }
            }
            super._parseNumericValue(expType);
        }

        /** The anchor of the node the current token is or starts (not of a mapping's key), or null. */
        String anchor() {
            return currentToken() != JsonToken.FIELD_NAME && _lastEvent instanceof NodeEvent node
                    && !(node instanceof AliasEvent) ? node.getAnchor() : null;
        }
    }

    /**
     * Each mapping's {@code <<} entry (a mapping, or a list of them) merged into it as PyYAML does:
     * its own keys win, then the earlier mappings of the list; the merged keys come first.
     */
    private static JsonNode mergeKeys(JsonNode node, String source) {
        if (node instanceof ArrayNode array) {
            for (int i = 0; i < array.size(); i++) {
                array.set(i, mergeKeys(array.get(i), source));
            }
            return node;
        }
        if (!node.isObject()) {
            return node;
        }
        ObjectNode object = (ObjectNode) node;
        for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            e.setValue(mergeKeys(e.getValue(), source));
        }
        JsonNode merge = object.get(MERGE_KEY);
        if (merge == null) {
            return object;
        }
        List<JsonNode> sources = new ArrayList<>();
        if (merge.isArray()) {
            merge.forEach(sources::add);
        } else {
            sources.add(merge);
        }
        Map<String, JsonNode> merged = new LinkedHashMap<>();
        for (JsonNode from : sources) {
            if (!from.isObject()) {
                throw new BadInputException(source + ": <<: a merge key takes a mapping or a list of mappings, not "
                        + from);
            }
            from.fields().forEachRemaining(e -> merged.putIfAbsent(e.getKey(), e.getValue()));
        }
        object.remove(MERGE_KEY);
        object.fields().forEachRemaining(e -> merged.put(e.getKey(), e.getValue()));
        ObjectNode out = object.objectNode();
        merged.forEach((key, value) -> out.set(key, value.deepCopy()));
        return out;
    }

    /**
     * The tokens of a YAML parser with each alias replaced by the tokens its anchor marked, recorded
     * as they pass (an anchored mapping holding an alias records its expansion).
     */
    private static final class Aliases extends JsonParserDelegate {
        private final EventParser source;
        private final Map<String, TokenBuffer> anchors = new HashMap<>();
        private final List<Recording> recordings = new ArrayList<>();
        private JsonParser replay;

        /** The tokens of one anchored node so far, and how deep in it the parser is. */
        private static final class Recording {
            final String anchor;
            final TokenBuffer tokens;
            int depth;

            Recording(String anchor, TokenBuffer tokens) {
                this.anchor = anchor;
                this.tokens = tokens;
            }
        }

        Aliases(EventParser source) {
            super(source);
            this.source = source;
        }

        @Override
        public JsonToken nextToken() throws IOException {
            JsonToken t = replay == null ? null : replay.nextToken();
            if (t == null) {
                if (replay != null) {
                    replay.close();
                    replay = null;
                    delegate = source;
                }
                t = source.nextToken();
                if (t == JsonToken.VALUE_STRING && source.isCurrentAlias()) {
                    String alias = source.getText();
                    TokenBuffer tokens = anchors.get(alias);
                    if (tokens == null) {
                        throw new JsonParseException(source, "alias *" + alias + " names no complete anchor before it");
                    }
                    replay = tokens.asParser(source.getCodec());
                    delegate = replay;
                    t = replay.nextToken();
                } else if (t != null && source.anchor() != null) {
                    recordings.add(new Recording(source.anchor(), new TokenBuffer(source.getCodec(), false)));
                }
            }
            record(t);
            return t;
        }

        private void record(JsonToken t) throws IOException {
            if (t == null || recordings.isEmpty()) {
                return;
            }
            for (Iterator<Recording> it = recordings.iterator(); it.hasNext(); ) {
                Recording r = it.next();
                if (t == JsonToken.VALUE_NUMBER_FLOAT && delegate.getNumberType() != JsonParser.NumberType.BIG_DECIMAL) {
                    // As the parser reads it (a double); a copied event would replay as a BigDecimal.
                    r.tokens.writeNumber(delegate.getDoubleValue());
                } else {
                    r.tokens.copyCurrentEvent(delegate);
                }
                if (t.isStructStart()) {
                    r.depth++;
                } else if (t.isStructEnd()) {
                    r.depth--;
                }
                if (r.depth == 0 && t != JsonToken.FIELD_NAME) {
                    anchors.put(r.anchor, r.tokens);
                    it.remove();
                }
            }
        }

        @Override
        public JsonToken nextValue() throws IOException {
            JsonToken t = nextToken();
            return t == JsonToken.FIELD_NAME ? nextToken() : t;
        }

        @Override
        public JsonParser skipChildren() throws IOException {
            JsonToken t = currentToken();
            if (t == null || !t.isStructStart()) {
                return this;
            }
            int open = 1;
            while (open > 0) {
                t = nextToken();
                if (t == null) {
                    break;
                }
                if (t.isStructStart()) {
                    open++;
                } else if (t.isStructEnd()) {
                    open--;
                }
            }
            return this;
        }

        @Override
        public void close() throws IOException {
            if (replay != null) {
                replay.close();
            }
            source.close();
        }
    }
}
