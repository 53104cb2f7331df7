package io.tandem.inference.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class IncrementalDecoderTest {

  static HfTokenizer qwen;

  @BeforeAll
  static void load() {
    qwen = HfTokenizer.load(TextFixtures.dir("qwen-tokenizer"));
  }

  @AfterAll
  static void close() {
    qwen.close();
  }

  private static List<String> stream(IncrementalDecoder decoder, int[] ids) {
    List<String> pieces = new ArrayList<>();
    for (int id : ids) pieces.add(decoder.next(id));
    pieces.add(decoder.flush());
    return pieces;
  }

  @Test
  void streamsChineseAndEmojiWithoutEverEmittingHalfACharacter() {
    String text = "你好🙂 emoji and 中文 mixed; 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🦜🧬👍🏽 龘靐齉 done.\n\n";
    int[] ids = qwen.encode(text);
    // The text is chosen so that some characters span several byte-level tokens.
    assertTrue(Arrays.stream(ids).anyMatch(id -> qwen.decode(new int[] {id}).contains("\uFFFD")),
        "some token carries only part of a character");

    List<String> pieces = stream(new IncrementalDecoder(qwen), ids);
    for (String piece : pieces) assertFalse(piece.contains("\uFFFD"), "broken character in " + pieces);
    assertTrue(pieces.subList(0, ids.length).contains(""), "a split character was held back");
    assertEquals(text, String.join("", pieces));
    assertEquals(qwen.decode(ids), String.join("", pieces));
  }

  @Test
  void everyGoldenEncodingStreamsTokenByTokenAsHuggingFaceDecodesIt() {
    for (JsonNode e : TextFixtures.qwenGolden().get("encodings")) {
      int[] ids = TextFixtures.ints(e.get("ids"));
      IncrementalDecoder decoder = new IncrementalDecoder(qwen);
      for (int i = 0; i < ids.length; i++) {
        // Each golden token is whole characters, so each comes out as soon as it is fed.
        assertEquals(e.get("tokens_decoded_one_by_one").get(i).asText(), decoder.next(ids[i]), e.get("text").asText());
      }
      assertEquals("", decoder.flush());
    }
  }

  @Test
  void aTriggerTokenComesOutWholeTheMomentItIsGenerated() {
    IncrementalDecoder decoder = new IncrementalDecoder(qwen);
    assertEquals("So", decoder.next(4416));
    assertEquals(".\n\n", decoder.next(382));
  }

  @Test
  void bytesThatNeverCompleteACharacterAreFlushedAsDecodeShowsThem() {
    int[] emoji = qwen.encode("🦜");
    assertTrue(emoji.length > 1, "the parrot takes several tokens");
    IncrementalDecoder decoder = new IncrementalDecoder(qwen);
    assertEquals("", decoder.next(emoji[0]));
    assertTrue(decoder.holdsText());
    assertEquals(qwen.decode(new int[] {emoji[0]}), decoder.flush());
    assertFalse(decoder.holdsText());
  }

  @Test
  void specialTokensAddNoText() {
    IncrementalDecoder decoder = new IncrementalDecoder(qwen);
    assertEquals("Hello", decoder.next(9707));
    assertEquals("", decoder.next(151645));
    assertEquals("", decoder.flush());
  }

  @Test
  void textAfterAPromptContinuesIt() {
    int[] prompt = qwen.encode("The answer is");
    int[] generated = qwen.encode(" 42 🙂, 确定。");
    List<String> pieces = stream(new IncrementalDecoder(qwen, prompt), generated);
    assertEquals(" 42 🙂, 确定。", String.join("", pieces));
  }

  @Test
  void stepsThatEndWithinACharacterConcatenateToTheWholeDecode() {
    int[] prompt = qwen.encode("Answer:");
    String text = " 留守儿童關 🦜🧬👍🏽 龘靐齉, 确定。";
    int[] output = qwen.encode(text);
    int split = 0;
    for (int cut = 1; cut < output.length; cut++) {
      // One step writes output[0, cut), the next (a fresh decoder, as on the other worker) the rest.
      IncrementalDecoder first = new IncrementalDecoder(qwen, prompt, 0);
      StringBuilder got = new StringBuilder();
      for (int i = 0; i < cut; i++) got.append(first.next(output[i]));
      if (first.holdsText()) split++;
      int[] sequence = concat(prompt, Arrays.copyOf(output, cut));
      int[] context = Arrays.copyOfRange(sequence, Math.max(0, sequence.length - 22), sequence.length);
      IncrementalDecoder second = new IncrementalDecoder(qwen, context, Math.min(context.length, cut));
      for (int i = cut; i < output.length; i++) got.append(second.next(output[i]));
      assertEquals(text, got.toString(), "steps split after " + cut + " of " + output.length + " tokens");
    }
    assertTrue(split > 3, "some steps end within a character: " + split);
  }

  @Test
  void outputAfterAPromptThatEndsWithinACharacterIsItsOwnIdsText() {
    int[] parrot = qwen.encode("🦜");
    assertTrue(parrot.length > 1, "the parrot takes several tokens");
    int[] prompt = concat(qwen.encode("A bird:"), new int[] {parrot[0]});
    int[] output = concat(Arrays.copyOfRange(parrot, 1, parrot.length), qwen.encode(" 中文"));
    IncrementalDecoder decoder = new IncrementalDecoder(qwen, prompt, 0);
    assertFalse(decoder.holdsText(), "the prompt's bytes are not the output's to send");
    // Not the parrot (its first bytes are the prompt's), nor half of its surrogate pair: the output's own bytes.
    assertEquals(qwen.decode(output), String.join("", stream(decoder, output)));

    // The same when the output so far is only bytes continuing the prompt's character, held by a step before.
    for (int cut = 1; cut < output.length; cut++) {
      int[] sequence = concat(prompt, Arrays.copyOf(output, cut));
      IncrementalDecoder first = new IncrementalDecoder(qwen, prompt, 0);
      StringBuilder got = new StringBuilder();
      for (int i = 0; i < cut; i++) got.append(first.next(output[i]));
      IncrementalDecoder second = new IncrementalDecoder(qwen, sequence, cut);
      for (int i = cut; i < output.length; i++) got.append(second.next(output[i]));
      assertEquals(qwen.decode(output), got.toString(), "steps split after " + cut);
    }
  }

  @Test
  void aLongRunOfBytesThatCompleteNoCharacterIsKeptAcrossSteps() {
    int stray = -1;
    for (int id = 0; id < 256 && stray < 0; id++) if (qwen.decode(new int[] {id}).equals("\uFFFD")) stray = id;
    assertTrue(stray >= 0, "a byte token that completes no character");
    int[] prompt = qwen.encode("Bytes:");
    int[] output = new int[21];
    Arrays.fill(output, stray);
    output[20] = qwen.encode("A")[0];
    for (int cut = 1; cut < output.length; cut++) {
      IncrementalDecoder first = new IncrementalDecoder(qwen, prompt, 0);
      StringBuilder got = new StringBuilder();
      for (int i = 0; i < cut; i++) got.append(first.next(output[i]));
      int[] sequence = concat(prompt, Arrays.copyOf(output, cut));
      IncrementalDecoder second = new IncrementalDecoder(qwen, sequence, cut);
      for (int i = cut; i < output.length; i++) got.append(second.next(output[i]));
      assertEquals(qwen.decode(output), got.toString(), "steps split after " + cut);
    }
  }

  @Test
  void outputCountsOutsideTheContextAreRefused() {
    int[] context = qwen.encode("Hello");
    assertThrows(IllegalArgumentException.class, () -> new IncrementalDecoder(qwen, context, context.length + 1));
    assertThrows(IllegalArgumentException.class, () -> new IncrementalDecoder(qwen, context, -1));
  }

  private static int[] concat(int[] a, int[] b) {
    int[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void wordLevelTokensStreamAsWordsJoinedBySpaces() {
    try (HfTokenizer tiny = HfTokenizer.load(TextFixtures.dir("qwen2-tiny"))) {
      IncrementalDecoder decoder = new IncrementalDecoder(tiny);
      assertEquals("w25", decoder.next(25));
      assertEquals(" w173", decoder.next(173));
      assertEquals("", decoder.next(319), "eos is special and adds nothing");
      assertEquals(" w4", decoder.next(4));
    }
  }

  @Test
  void longStreamsMatchTheWholeDecode() {
    String text = "Let me verify. 验证一下：12 + 35 = 47 ✅\n\n".repeat(40);
    int[] ids = qwen.encode(text);
    assertEquals(text, String.join("", stream(new IncrementalDecoder(qwen), ids)));
  }
}
