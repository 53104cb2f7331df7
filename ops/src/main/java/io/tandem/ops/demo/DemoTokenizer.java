package io.tandem.ops.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The demo models' word-level tokenizer, written as a Hugging Face {@code tokenizer.json}
 * (WordLevel model, a regex Split pre-tokenizer, a Fuse decoder) so that the same DJL tokenizer
 * that serves real checkpoints loads it. Tokens are words, single digits and punctuation, each
 * with or without one leading space; blank lines are tokens of their own, so the trigger
 * {@code "\n\n"} is one token.
 */
public final class DemoTokenizer {

  /** Pieces, in order of preference: blank lines, words (and {@code \boxed}), digits, punctuation. */
  public static final String PATTERN = "\\n\\n|\\n| ?\\\\?[A-Za-z]+| ?[0-9]| ?[^A-Za-z0-9\\s]| +|\\s";

  public static final String PAD = "<|endoftext|>";
  public static final String UNK = "<unk>";
  public static final String EOS = "<|end|>";
  public static final List<String> SPECIAL = List.of(PAD, "<|system|>", "<|user|>", "<|assistant|>", EOS);

  /** Renders each message as {@code <|role|>content}, then {@code <|assistant|>} to answer. */
  public static final String CHAT_TEMPLATE =
      "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}{% endfor %}"
          + "{% if add_generation_prompt %}<|assistant|>{% endif %}";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Map<String, Integer> vocab;

  private DemoTokenizer(Map<String, Integer> vocab) {
    this.vocab = vocab;
  }

  /**
   * The vocabulary: the special tokens, {@code <unk>}, then every piece the task's prompts and
   * traces can contain, each with and without a leading space, sorted. The same on every run.
   */
  public static DemoTokenizer build() {
    TreeSet<String> pieces = new TreeSet<>();
    SplittableRandom rng = new SplittableRandom(0);
    for (int i = 0; i < 2000; i++) {
      SumTask.Problem p = SumTask.problem(-1, i);
      collect(SumTask.prompt(p), pieces);
      collect(SumTask.overReflecting(p), pieces);
      collect(SumTask.decisive(p, rng, 0.5, 0.5), pieces);
    }
    for (int d = 0; d <= 9; d++) collect(String.valueOf(d), pieces);
    TreeSet<String> both = new TreeSet<>();
    for (String piece : pieces) {
      if (piece.isBlank()) {
        both.add(piece);
        continue;
      }
      String bare = piece.startsWith(" ") ? piece.substring(1) : piece;
      both.add(bare);
      both.add(" " + bare);
    }
    both.add(" ");
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (String s : SPECIAL) vocab.put(s, vocab.size());
    vocab.put(UNK, vocab.size());
    for (String s : both) vocab.putIfAbsent(s, vocab.size());
    return new DemoTokenizer(vocab);
  }

  /** Splits text into pieces as the tokenizer's pre-tokenizer does. */
  public static List<String> pieces(String text) {
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile(PATTERN).matcher(text);
    while (m.find()) out.add(m.group());
    return out;
  }

  private static void collect(String text, TreeSet<String> into) {
    into.addAll(pieces(text));
  }

  public int vocabSize() {
    return vocab.size();
  }

  public int id(String token) {
    Integer id = vocab.get(token);
    if (id == null) throw new IllegalArgumentException("not in the demo vocabulary: '" + token + "'");
    return id;
  }

  /** Writes {@code tokenizer.json} and {@code tokenizer_config.json} into {@code dir}. */
  public void write(Path dir) throws IOException {
    Files.createDirectories(dir);
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (String s : SPECIAL) {
      added.addObject().put("id", vocab.get(s)).put("content", s).put("single_word", false)
          .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
    }
    root.putNull("normalizer");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "Split");
    pre.putObject("pattern").put("Regex", PATTERN);
    pre.put("behavior", "Isolated");
    pre.put("invert", false);
    root.putNull("post_processor");
    root.putObject("decoder").put("type", "Fuse");
    ObjectNode model = root.putObject("model");
    model.put("type", "WordLevel");
    ObjectNode v = model.putObject("vocab");
    vocab.forEach(v::put);
    model.put("unk_token", UNK);
    JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);

    ObjectNode config = JSON.createObjectNode();
    config.put("tokenizer_class", "PreTrainedTokenizerFast");
    config.putNull("bos_token");
    config.put("eos_token", EOS);
    config.put("pad_token", PAD);
    config.put("unk_token", UNK);
    config.put("model_max_length", 1024);
    config.put("clean_up_tokenization_spaces", false);
    config.put("chat_template", CHAT_TEMPLATE);
    JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
  }
}
