package io.tandem.inference.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfTokenizerTest {

  static HfTokenizer qwen;

  @BeforeAll
  static void load() {
    qwen = HfTokenizer.load(TextFixtures.dir("qwen-tokenizer"));
  }

  @AfterAll
  static void close() {
    qwen.close();
  }

  @Test
  void encodesEveryGoldenTextToTheIdsHuggingFaceProduces() {
    for (JsonNode e : TextFixtures.qwenGolden().get("encodings")) {
      assertArrayEquals(TextFixtures.ints(e.get("ids")), qwen.encode(e.get("text").asText()),
          "ids of " + e.get("text"));
    }
  }

  /** Qwen's tokenizer adds no special token to a text (no BOS), as Hugging Face's Qwen2TokenizerFast. */
  @Test
  void qwenAddsNoSpecialTokensEvenWhenAsked() {
    assertArrayEquals(qwen.encode("Compute 40 + 85."), qwen.encode("Compute 40 + 85.", true));
  }

  /**
   * Asked for special tokens (vLLM's default for a completion's text prompt), a Llama-family
   * tokenizer class adds what its tokenizer_config.json says, as Hugging Face's LlamaTokenizerFast
   * (DeepSeek-R1's distills' class) builds its post-processor from add_bos_token (by default true),
   * whatever its tokenizer.json's says. (A tokenizer.json post-processor's BOS: EngineWithoutTokenizerTest.)
   */
  @Test
  void askedForSpecialTokensALlamaClassAddsItsBosAsItsConfigSays(@TempDir Path dir) throws IOException {
    // Qwen's vocabulary (whose post-processor adds nothing), with <|endoftext|> (151643) named as the BOS.
    Path qwenDir = TextFixtures.dir("qwen-tokenizer");
    Path llamaClass = Files.createDirectories(dir.resolve("llama-class"));
    Files.copy(qwenDir.resolve("tokenizer.json"), llamaClass.resolve("tokenizer.json"));
    Files.writeString(llamaClass.resolve("tokenizer_config.json"),
        "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"bos_token\": \"<|endoftext|>\", \"eos_token\": \"<|im_end|>\"}");
    Path noBos = Files.createDirectories(dir.resolve("no-bos"));
    Files.copy(qwenDir.resolve("tokenizer.json"), noBos.resolve("tokenizer.json"));
    Files.writeString(noBos.resolve("tokenizer_config.json"),
        "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"bos_token\": \"<|endoftext|>\", \"add_bos_token\": false}");
    // One that would add a BOS it does not name is refused as it loads (Hugging Face refuses it too), not on each request.
    Path unnamed = Files.createDirectories(dir.resolve("unnamed"));
    Files.copy(qwenDir.resolve("tokenizer.json"), unnamed.resolve("tokenizer.json"));
    Files.writeString(unnamed.resolve("tokenizer_config.json"), "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"bos_token\": null}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(unnamed));
    assertTrue(e.getMessage().endsWith("its LlamaTokenizerFast adds its bos_token to a text (add_bos_token is true, or left out)"
        + " but names none; give the bos_token, or set add_bos_token to false"), e.getMessage());
    for (Path folder : new Path[] {llamaClass, noBos}) {
      try (HfTokenizer t = HfTokenizer.load(folder)) {
        int[] plain = t.encode("hello world");
        int[] expected = folder == noBos ? plain : java.util.stream.IntStream.concat(
            java.util.stream.IntStream.of(151643), Arrays.stream(plain)).toArray();
        assertArrayEquals(expected, t.encode("hello world", true), folder.getFileName().toString());
        assertFalse(plain[0] == 151643, "without special tokens, no BOS");
      }
    }
  }

  @Test
  void decodesEachGoldenIdAloneToTheTextHuggingFaceShows() {
    for (JsonNode e : TextFixtures.qwenGolden().get("encodings")) {
      int[] ids = TextFixtures.ints(e.get("ids"));
      for (int i = 0; i < ids.length; i++) {
        assertEquals(e.get("tokens_decoded_one_by_one").get(i).asText(), qwen.decode(new int[] {ids[i]}),
            "token " + ids[i] + " of " + e.get("text"));
      }
    }
  }

  @Test
  void decodingTheGoldenIdsGivesBackTheText() {
    for (JsonNode e : TextFixtures.qwenGolden().get("encodings")) {
      assertEquals(e.get("text").asText(), qwen.decode(TextFixtures.ints(e.get("ids"))));
    }
  }

  @Test
  void periodAndBlankLineIsTheSingleToken382() {
    assertArrayEquals(new int[] {382}, qwen.encode(".\n\n"));
    assertEquals(".\n\n", qwen.tokenText(382));
  }

  @Test
  void roundTripsMixedScriptsCodeAndWhitespace() {
    for (String text : new String[] {"Wait, let me verify.\n\nSo x = 5.", "数学题：求 ∫₀¹ x² dx = ⅓ 🙂👍🏽",
        "  \t\r\n  ", "<think>\nok\n</think>\n\n", "\\boxed{\\frac{1}{2}}", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🦜🧬"}) {
      assertEquals(text, qwen.decode(qwen.encode(text)), text);
    }
  }

  @Test
  void specialTokensAreParsedFromTextDroppedOnDecodeAndShownByTokenText() {
    int imEnd = qwen.addedTokenId("<|im_end|>").getAsInt();
    assertEquals(151645, imEnd);
    assertArrayEquals(new int[] {9707, imEnd}, qwen.encode("Hello<|im_end|>"));
    assertTrue(qwen.isSpecial(imEnd));
    assertEquals("Hello", qwen.decode(new int[] {9707, imEnd}));
    assertEquals("Hello<|im_end|>", qwen.decode(new int[] {9707, imEnd}, false));
    assertEquals("<|im_end|>", qwen.tokenText(imEnd));
    // <think> is an added token but not a special one: Qwen3 shows it in decoded text.
    assertFalse(qwen.isSpecial(151667));
    assertTrue(qwen.specialTokenIds().contains(151643));
  }

  @Test
  void bosAndEosComeFromTokenizerConfig() {
    assertEquals(Optional.of("<|im_end|>"), qwen.eosToken());
    assertEquals(OptionalInt.of(151645), qwen.eosTokenId());
    assertEquals(Optional.empty(), qwen.bosToken());
  }

  @Test
  void longInputIsNeitherTruncatedNorPadded() {
    String text = " word".repeat(3000);
    assertEquals(3000, qwen.encode(text).length);
    assertEquals(text, qwen.decode(qwen.encode(text)));
    assertEquals(0, qwen.encode("").length);
  }

  @Test
  void keyIdentifiesTheTokenizerFileWhereverItLies(@TempDir Path tmp) throws IOException {
    Files.copy(TextFixtures.dir("qwen2-tiny").resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    try (HfTokenizer copy = HfTokenizer.load(tmp);
        HfTokenizer original = HfTokenizer.load(TextFixtures.dir("qwen2-tiny"));
        HfTokenizer llama = HfTokenizer.load(TextFixtures.dir("llama-tiny"))) {
      assertEquals(original.key(), copy.key());
      assertNotEquals(original.key(), llama.key());
      assertNotEquals(original.key(), qwen.key());
    }
  }

  @Test
  void wordLevelFixtureTokenizersMapWordsToIdsAndJoinWithSpaces() {
    try (HfTokenizer tiny = HfTokenizer.load(TextFixtures.dir("qwen2-tiny"))) {
      JsonNode golden = TextFixtures.json(TextFixtures.dir("qwen2-tiny").resolve("golden.json"));
      int[] prompt = TextFixtures.ints(golden.at("/greedy_generation/prompt_ids"));
      String words = Arrays.stream(prompt).mapToObj(id -> "w" + id).collect(Collectors.joining(" "));
      assertArrayEquals(prompt, tiny.encode(words));
      assertEquals(words, tiny.decode(prompt));
      assertEquals("w25 w4", tiny.decode(new int[] {25, 319, 4}), "the eos <|im_end|> is dropped");
      assertEquals(OptionalInt.of(319), tiny.eosTokenId());
    }
    try (HfTokenizer llama3 = HfTokenizer.load(TextFixtures.dir("llama3-rope-tiny"))) {
      assertEquals(Optional.of("</s>"), llama3.eosToken());
      assertTrue(llama3.isSpecial(3), "<|eot|> is special");
      assertArrayEquals(new int[] {1, 7, 3}, llama3.encode("<s> w7 <|eot|>"));
    }
  }

  @Test
  void bosTokenWrittenAsAnObjectIsReadFromItsContent(@TempDir Path tmp) throws IOException {
    Files.copy(TextFixtures.dir("llama-tiny").resolve("tokenizer.json"), tmp.resolve("tokenizer.json"));
    Files.writeString(tmp.resolve("tokenizer_config.json"),
        "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<s>\", \"special\": true}, \"eos_token\": \"</s>\"}");
    try (HfTokenizer t = HfTokenizer.load(tmp)) {
      assertEquals(Optional.of("<s>"), t.bosToken());
      assertEquals(OptionalInt.of(2), t.eosTokenId());
    }
  }

  @Test
  void aFolderWithoutTokenizerJsonIsRejectedByName(@TempDir Path tmp) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(tmp));
    assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
  }

  /**
   * The same tokenizer written another way (formatting, member order, merges in the older "a b" form, another
   * version) has the same key; another vocabulary has another (tester59b: a re-saved file was taken for another
   * vocabulary).
   */
  @Test
  void theSameTokenizerWrittenAnotherWayHasTheSameKey() throws Exception {
    Path file = TextFixtures.dir("qwen-tokenizer").resolve("tokenizer.json");
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode tree = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(file.toFile());
    com.fasterxml.jackson.databind.node.ArrayNode merges = (com.fasterxml.jackson.databind.node.ArrayNode) tree.path("model").path("merges");
    for (int i = 0; i < merges.size(); i++) merges.set(i, com.fasterxml.jackson.databind.node.TextNode.valueOf(
        merges.get(i).get(0).asText() + " " + merges.get(i).get(1).asText()));
    tree.put("version", "0.9");
    // Written by tokenizers before 0.19: no ignore_merges (tester59f), and added tokens in another order.
    ((com.fasterxml.jackson.databind.node.ObjectNode) tree.path("model")).remove("ignore_merges");
    com.fasterxml.jackson.databind.node.ArrayNode added = (com.fasterxml.jackson.databind.node.ArrayNode) tree.path("added_tokens");
    java.util.List<JsonNode> reversed = new java.util.ArrayList<>();
    added.forEach(reversed::add);
    java.util.Collections.reverse(reversed);
    added.removeAll().addAll(reversed);
    com.fasterxml.jackson.databind.node.ObjectNode reordered = json.createObjectNode();
    java.util.List<String> names = new java.util.ArrayList<>();
    tree.fieldNames().forEachRemaining(names::add);
    java.util.Collections.reverse(names);
    for (String n : names) reordered.set(n, tree.get(n));
    byte[] resaved = json.writerWithDefaultPrettyPrinter().writeValueAsBytes(reordered);
    assertEquals(qwen.key(), HfTokenizer.vocabularyKey(resaved));
    ((com.fasterxml.jackson.databind.node.ObjectNode) reordered.path("model").path("vocab")).put("§new", 999_999);
    assertNotEquals(qwen.key(), HfTokenizer.vocabularyKey(json.writeValueAsBytes(reordered)));
    // No JSON object: keyed by its bytes, so two such files differ (tester61a: the line compared a key with itself).
    assertEquals("sha256:" + java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest("[1]".getBytes(java.nio.charset.StandardCharsets.UTF_8))),
        HfTokenizer.vocabularyKey("[1]".getBytes(java.nio.charset.StandardCharsets.UTF_8)), "no object: its bytes");
    assertNotEquals(HfTokenizer.vocabularyKey("[1]".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
        HfTokenizer.vocabularyKey("[2]".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }
}
