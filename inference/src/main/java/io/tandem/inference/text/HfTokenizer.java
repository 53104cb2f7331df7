package io.tandem.inference.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.inference.TextTokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A Hugging Face {@code tokenizer.json} tokenizer (byte-level BPE, WordLevel, ...) run by DJL's
 * binding of the Rust {@code tokenizers} library, so that ids match Hugging Face exactly.
 *
 * <p>Encoding adds no special tokens (a chat template writes them as text) unless asked, as
 * Hugging Face's {@code tokenizer(text)} adds them ({@code add_special_tokens=True}: vLLM's default
 * for a completion's text prompt); decoding drops them. Thread-safe: the native tokenizer is
 * immutable once loaded.
 */
public final class HfTokenizer implements TextTokenizer, AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HuggingFaceTokenizer tokenizer;
  private final String key;
  private final Map<String, Integer> addedTokenIds;
  private final Set<Integer> specialIds;
  private final String bosToken;
  private final String eosToken;
  /** For a Llama-family tokenizer class, the special tokens it adds itself; null: the tokenizer.json's post-processor's. */
  private final SpecialTokens llamaSpecials;
  private final int largestId;

  /** The ids a Llama-family tokenizer adds before and after a text ({@code add_bos_token}, {@code add_eos_token}); -1: none. */
  private record SpecialTokens(int bos, int eos) {}

  private HfTokenizer(HuggingFaceTokenizer tokenizer, String key, Map<String, Integer> addedTokenIds,
      Set<Integer> specialIds, String bosToken, String eosToken, SpecialTokens llamaSpecials, int largestId) {
    this.tokenizer = tokenizer;
    this.key = key;
    this.addedTokenIds = addedTokenIds;
    this.specialIds = specialIds;
    this.bosToken = bosToken;
    this.eosToken = eosToken;
    this.llamaSpecials = llamaSpecials;
    this.largestId = largestId;
  }

  /**
   * Reads the {@code tokenizer_config.json} of the checkpoint in {@code modelDir}, when it has one,
   * as {@link #load} reads it, without loading the tokenizer: a launcher checks both models of a
   * pair so before either loads.
   *
   * @throws JsonFault.NotJson when it is not UTF-8, not JSON or not a JSON object
   */
  public static void checkConfig(Path modelDir) {
    Path configFile = modelDir.resolve("tokenizer_config.json");
    if (!Files.exists(configFile)) return;
    try {
      JsonFault.readObject(JSON, configFile, "{...}");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + configFile + ": " + io.tandem.inference.hf.CheckpointException.why(e), e);
    }
  }

  /**
   * Loads {@code tokenizer.json} (and {@code tokenizer_config.json} for the bos/eos tokens, if
   * present) from a checkpoint folder. Nothing is downloaded.
   */
  public static HfTokenizer load(Path modelDir) {
    Path file = modelDir.resolve("tokenizer.json");
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("no tokenizer.json in " + modelDir
          + ": Tandem needs the fast-tokenizer file that Hugging Face checkpoints ship", e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + io.tandem.inference.hf.CheckpointException.why(e), e);
    }
    // DJL otherwise tries to download what it lacks; everything needed ships in its jar.
    if (System.getProperty("ai.djl.offline") == null) System.setProperty("ai.djl.offline", "true");
    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "false");
    // DJL's defaults truncate to 512 tokens and pad; a prompt must come through whole.
    options.put("truncation", "false");
    options.put("padding", "false");
    // A byte order mark is dropped, as from every text file Tandem reads (Utf8Files); the tokenizers crate refuses it.
    if (bytes.length >= 3 && (bytes[0] & 0xff) == 0xEF && (bytes[1] & 0xff) == 0xBB && (bytes[2] & 0xff) == 0xBF)
      bytes = Arrays.copyOfRange(bytes, 3, bytes.length);
    HuggingFaceTokenizer native_;
    try {
      native_ = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), options);
    } catch (LinkageError e) {
      // The crate's library there but not loadable (tester59e): one line, not Akka's exit for a fatal error.
      throw new IllegalArgumentException(io.tandem.inference.hf.NativeLibraries.whyNotLoaded(e).orElse("cannot load the"
          + " Hugging Face tokenizers' native library (" + e + ")"), e);
    } catch (IOException | RuntimeException e) {
      // The crate's library not loaded is no fault of the file's (tester59c: a read-only file system was said as a damaged
      // tokenizer.json).
      if (String.valueOf(e.getMessage()).contains("native library"))
        io.tandem.inference.hf.NativeLibraries.whyNotLoaded(e).ifPresent(why -> {
          throw new IllegalArgumentException(why, e);
        });
      // The tokenizers crate says a JSON fault in serde's words ("EOF while parsing a value at line 1 column 0"): when
      // the file is no JSON object, it is said as every checkpoint file's fault is; else the crate knows what is wrong.
      try {
        JsonFault.readObject(JSON, file, "{\"model\": ..., ...}");
      } catch (JsonFault.NotJson notJson) {
        // Past what Tandem reads of a text file (64 MiB) is no fault of the file's: the crate's words then.
        if (!(notJson.getCause() instanceof io.tandem.protocol.text.Utf8Files.TooLarge))
          throw new IllegalArgumentException(notJson.getMessage(), e);
      } catch (IOException | RuntimeException ignored) {
        // Said below, in the crate's words.
      }
      throw new IllegalArgumentException("cannot load " + file + " as a Hugging Face fast tokenizer (the tokenizers library"
          + " says: " + e.getMessage() + "); copy it from the model's repository again", e);
    }
    Map<String, Integer> added = new HashMap<>();
    Set<Integer> special = new HashSet<>();
    int largestId = readAddedTokens(bytes, file, added, special);

    String bos = null;
    String eos = null;
    SpecialTokens llama = null;
    Path configFile = modelDir.resolve("tokenizer_config.json");
    if (Files.exists(configFile)) {
      try {
        JsonNode config = JsonFault.readObject(JSON, configFile, "{...}");
        bos = ChatTemplate.tokenContent(config.get("bos_token"));
        eos = ChatTemplate.tokenContent(config.get("eos_token"));
        llama = llamaSpecials(config, bos, eos, added, configFile);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + configFile + ": " + io.tandem.inference.hf.CheckpointException.why(e), e);
      }
    }
    return new HfTokenizer(native_, vocabularyKey(bytes), Collections.unmodifiableMap(added),
        Collections.unmodifiableSet(special), bos, eos, llama, largestId);
  }

  /**
   * The tokenizer classes whose Hugging Face implementation replaces the tokenizer.json's
   * post-processor with one of its own settings ({@code LlamaTokenizerFast.update_post_processor}:
   * {@code add_bos_token}, by default true, and {@code add_eos_token}, by default false), as
   * DeepSeek-R1's distilled models declare theirs; null for any other class.
   */
  private static SpecialTokens llamaSpecials(JsonNode config, String bos, String eos, Map<String, Integer> added, Path file) {
    String cls = config.path("tokenizer_class").asText("");
    if (!(cls.startsWith("LlamaTokenizer") || cls.startsWith("CodeLlamaTokenizer") || cls.startsWith("GemmaTokenizer")))
      return null;
    int bosId = config.path("add_bos_token").asBoolean(true) ? specialId(file, cls, "bos_token", bos, added) : -1;
    int eosId = config.path("add_eos_token").asBoolean(false) ? specialId(file, cls, "eos_token", eos, added) : -1;
    return new SpecialTokens(bosId, eosId);
  }

  /**
   * The id of the token {@code name} names, which a Llama-family class adds around a text.
   *
   * @throws IllegalArgumentException when it names none, or one tokenizer.json does not have (as
   *     Hugging Face refuses to load such a tokenizer), at load rather than on every request
   */
  private static int specialId(Path file, String cls, String name, String content, Map<String, Integer> added) {
    if (content == null)
      throw new IllegalArgumentException(file + ": its " + cls + " adds its " + name + " to a text (add_" + name
          + " is true, or left out) but names none; give the " + name + ", or set add_" + name + " to false");
    Integer id = added.get(content);
    if (id == null)
      throw new IllegalArgumentException(file + ": its " + name + " '" + content + "' is not a token of tokenizer.json's added"
          + " tokens; name one that is, or set add_" + name + " to false");
    return id;
  }

  /**
   * Checks that the ids of the {@code tokenizer.json} in {@code modelDir} are all below the model's
   * {@code vocab_size}, as its embedding needs (a tokenizer copied from another model passes every
   * other check, and each forward pass then fails: tester48b).
   *
   * @throws IllegalArgumentException naming both numbers when one is not
   */
  public static void checkIds(Path modelDir, int vocabSize) {
    Path file = modelDir.resolve("tokenizer.json");
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      return; // said where the tokenizer loads
    }
    int largest;
    try {
      largest = readAddedTokens(bytes, file, new HashMap<>(), new HashSet<>());
    } catch (IllegalArgumentException notJson) {
      return; // said where the tokenizer loads
    }
    requireIdsBelow(file, largest, vocabSize);
  }

  /**
   * The check of {@link #checkIds}, for a tokenizer whose largest id is {@code largest}.
   *
   * @throws IllegalArgumentException when {@code largest} is not below {@code vocabSize}
   */
  public static void requireIdsBelow(Path file, int largest, int vocabSize) {
    if (largest >= vocabSize)
      throw new IllegalArgumentException(file + ": its token ids go up to " + largest + ", but config.json's vocab_size is "
          + vocabSize + ", so the model has no embedding for them: the tokenizer is another model's; copy tokenizer.json"
          + " (and tokenizer_config.json) from this model's own repository");
  }

  /** The largest token id of this tokenizer: of its vocabulary and its added tokens. */
  public int largestId() {
    return largestId;
  }

  /**
   * Reads {@code added_tokens} by streaming, skipping the merges and reading of the (large)
   * vocabulary only its ids; the largest id of either.
   */
  private static int readAddedTokens(byte[] bytes, Path file, Map<String, Integer> added, Set<Integer> special) {
    int largest = -1;
    try (JsonParser p = JSON.getFactory().createParser(bytes)) {
      if (p.nextToken() != JsonToken.START_OBJECT) throw new IOException("not a JSON object");
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.getCurrentName();
        JsonToken value = p.nextToken();
        if (field.equals("model") && value == JsonToken.START_OBJECT) {
          largest = Math.max(largest, largestVocabularyId(p));
          continue;
        }
        if (!field.equals("added_tokens")) {
          p.skipChildren();
          continue;
        }
        JsonNode tokens = p.readValueAsTree();
        for (JsonNode t : tokens) {
          int id = t.path("id").asInt();
          added.put(t.path("content").asText(), id);
          if (t.path("special").asBoolean(false)) special.add(id);
          largest = Math.max(largest, id);
        }
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot parse " + file + ": " + e.getMessage(), e);
    }
    return largest;
  }

  /**
   * The largest id of a {@code model} object's {@code vocab}, the parser at its start and left at
   * its end: a BPE or WordPiece vocabulary maps pieces to ids, a Unigram one lists them in id order.
   */
  private static int largestVocabularyId(JsonParser p) throws IOException {
    int largest = -1;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.getCurrentName();
      JsonToken value = p.nextToken();
      if (field.equals("vocab") && value == JsonToken.START_OBJECT) {
        while (p.nextToken() == JsonToken.FIELD_NAME)
          if (p.nextToken().isNumeric()) largest = Math.max(largest, p.getIntValue());
          else p.skipChildren();
      } else if (field.equals("vocab") && value == JsonToken.START_ARRAY) {
        int n = 0;
        for (; p.nextToken() != JsonToken.END_ARRAY; n++) p.skipChildren();
        largest = Math.max(largest, n - 1);
      } else {
        p.skipChildren();
      }
    }
    return largest;
  }

  /**
   * A key of what {@code tokenizer.json} says, not of how it is written: the SHA-256 of its JSON with every object's
   * members in name order, merges in the list form ({@code ["a", "b"]}) whichever form the file has (tokenizers before
   * 0.20 wrote {@code "a b"}), and the members that do not change an encoding here (version, truncation, padding) left
   * out. A file that is the same tokenizer re-saved gets the same key (tester59b: a re-formatted file, or merges in the
   * older form, put a pair on the text hand-over path and warned of different vocabularies). A file that is no JSON
   * object (the tokenizers library read it all the same) is keyed by its bytes.
   */
  static String vocabularyKey(byte[] bytes) {
    JsonNode root;
    try {
      root = JSON.readTree(bytes);
    } catch (IOException e) {
      return sha256(bytes);
    }
    if (root == null || !root.isObject()) return sha256(bytes);
    com.fasterxml.jackson.databind.node.ObjectNode tree = (com.fasterxml.jackson.databind.node.ObjectNode) root;
    tree.remove(java.util.List.of("version", "truncation", "padding"));
    // Members later versions of the library write at their defaults, which earlier ones leave out (tester59f:
    // tokenizers before 0.19 write no model.ignore_merges), and added tokens in id order, as the library saves them.
    withoutDefaults(tree);
    JsonNode addedTokens = tree.path("added_tokens");
    if (addedTokens.isArray()) {
      java.util.List<JsonNode> sorted = new java.util.ArrayList<>();
      addedTokens.forEach(sorted::add);
      sorted.sort(java.util.Comparator.comparingLong(t -> t.path("id").asLong()));
      ((com.fasterxml.jackson.databind.node.ArrayNode) addedTokens).removeAll().addAll(sorted);
    }
    JsonNode merges = tree.path("model").path("merges");
    if (merges.isArray())
      for (int i = 0; i < merges.size(); i++)
        if (merges.get(i).isTextual()) {
          String merge = merges.get(i).asText();
          int space = merge.indexOf(' ');
          if (space > 0)
            ((com.fasterxml.jackson.databind.node.ArrayNode) merges).set(i,
                JSON.createArrayNode().add(merge.substring(0, space)).add(merge.substring(space + 1)));
        }
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      canonical(tree, digest);
      return "sha256:" + HexFormat.of().formatHex(digest.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /**
   * Removes, in every object under {@code node}, the members that the tokenizers library writes at a default that a
   * file without them means too: a BPE model's {@code "ignore_merges": false} (0.19 on), a ByteLevel step's
   * {@code "use_regex": true} and {@code "trim_offsets": true}.
   */
  private static void withoutDefaults(JsonNode node) {
    if (node.isObject()) {
      com.fasterxml.jackson.databind.node.ObjectNode o = (com.fasterxml.jackson.databind.node.ObjectNode) node;
      if (o.path("ignore_merges").isBoolean() && !o.get("ignore_merges").asBoolean()) o.remove("ignore_merges");
      for (String on : new String[] {"use_regex", "trim_offsets"})
        if (o.path(on).isBoolean() && o.get(on).asBoolean()) o.remove(on);
    }
    for (JsonNode child : node) if (child.isObject() || child.isArray() && child.size() > 0 && child.get(0).isContainerNode())
      withoutDefaults(child);
  }

  /** Feeds {@code node} to {@code digest} as JSON with each object's members in name order. */
  private static void canonical(JsonNode node, MessageDigest digest) {
    if (node.isObject()) {
      digest.update((byte) '{');
      java.util.List<String> names = new java.util.ArrayList<>();
      node.fieldNames().forEachRemaining(names::add);
      Collections.sort(names);
      for (String name : names) {
        digest.update(com.fasterxml.jackson.databind.node.TextNode.valueOf(name).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        digest.update((byte) ':');
        canonical(node.get(name), digest);
        digest.update((byte) ',');
      }
      digest.update((byte) '}');
    } else if (node.isArray()) {
      digest.update((byte) '[');
      for (JsonNode element : node) {
        canonical(element, digest);
        digest.update((byte) ',');
      }
      digest.update((byte) ']');
    } else {
      digest.update(node.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
  }

  private static String sha256(byte[] bytes) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** {@link #vocabularyKey}: the same tokenizer gives the same key, whatever its folder or formatting. */
  @Override
  public String key() {
    return key;
  }

  @Override
  public int[] encode(String text) {
    return ints(tokenizer.encode(text).getIds());
  }

  /**
   * {@inheritDoc} Those of the tokenizer.json's post-processor (a {@code TemplateProcessing}'s BOS,
   * say), or, for a Llama-family tokenizer class, its {@code bos_token} and {@code eos_token} as its
   * {@code add_bos_token} and {@code add_eos_token} say, as Hugging Face's {@code LlamaTokenizerFast}
   * builds its post-processor from them.
   */
  @Override
  public int[] encode(String text, boolean addSpecialTokens) {
    if (!addSpecialTokens) return encode(text);
    if (llamaSpecials == null) return ints(tokenizer.encode(text, true, false).getIds());
    int[] plain = encode(text);
    int bos = llamaSpecials.bos();
    int eos = llamaSpecials.eos();
    int[] out = new int[plain.length + (bos >= 0 ? 1 : 0) + (eos >= 0 ? 1 : 0)];
    int at = 0;
    if (bos >= 0) out[at++] = bos;
    System.arraycopy(plain, 0, out, at, plain.length);
    if (eos >= 0) out[out.length - 1] = eos;
    return out;
  }

  private static int[] ints(long[] ids) {
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) out[i] = (int) ids[i];
    return out;
  }

  @Override
  public String decode(int[] ids) {
    return decode(ids, true);
  }

  @Override
  public String decode(int[] ids, boolean skipSpecialTokens) {
    if (ids.length == 0) return "";
    long[] wide = new long[ids.length];
    for (int i = 0; i < ids.length; i++) wide[i] = ids[i];
    return tokenizer.decode(wide, skipSpecialTokens);
  }

  @Override
  public boolean isSpecial(int id) {
    return specialIds.contains(id);
  }

  /** The text of one token, special tokens included ({@code <|im_end|>}); partial UTF-8 shows as U+FFFD. */
  public String tokenText(int id) {
    return decode(new int[] {id}, false);
  }

  /** Ids of the special tokens, which decoding drops. */
  public Set<Integer> specialTokenIds() {
    return specialIds;
  }

  /** The id of an added token ({@code <|im_end|>}, {@code <think>}, ...), if the vocabulary has it. */
  public OptionalInt addedTokenId(String content) {
    Integer id = addedTokenIds.get(content);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  /** {@code bos_token} of {@code tokenizer_config.json}; Qwen has none. */
  public Optional<String> bosToken() {
    return Optional.ofNullable(bosToken);
  }

  /** {@code eos_token} of {@code tokenizer_config.json}. */
  public Optional<String> eosToken() {
    return Optional.ofNullable(eosToken);
  }

  /** The id of {@code eos_token}, if it is an added token. */
  public OptionalInt eosTokenId() {
    return eosToken == null ? OptionalInt.empty() : addedTokenId(eosToken);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
