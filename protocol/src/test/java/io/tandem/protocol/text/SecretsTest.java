package io.tandem.protocol.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Which text {@link Secrets} hides as a possible key, and which it leaves as written. */
class SecretsTest {

  private static final String H = Secrets.HIDDEN;

  @Test
  void generatedKeysAreHiddenWhereverTheyStand() {
    // tester52b's: base64url with dashes and underscores, a uuid, a base64 key that begins with a slash.
    for (String key : List.of("3Kpe_sP_89pRMrfnOS4_ORYmPwBcJjSW-OLm9kExYio", "L5jeLc6taLsHsgWFZX1mvP68DVt3BZWyTlT_wk5Z5M",
        "4712f437-3eb5-4d8c-9c81-881743813519", "sk-teFO6ehouKF4orzWJ7SAeqiF70NyG6NP4X9xWSxiHpg",
        "0123456789abcdef0123456789abcdef")) {
      assertEquals("Unexpected argument: '" + H + "'", Secrets.redact("Unexpected argument: '" + key + "'"), key);
      assertEquals("--api_key=" + H, Secrets.redact("--api_key=" + key), key);
      assertEquals("tandem.http." + H + " = 1", Secrets.redact("tandem.http." + key + " = 1"), key);
    }
    String slash = "/rP1IdOQ0f+64OZ5zQL0j53eReR8xXlD/eJVQsYap80=";
    assertEquals("got '" + H + "'", Secrets.redact("got '" + slash + "'"));
    assertEquals("-Dtandem.http.port=" + H, Secrets.redact("-Dtandem.http.port=" + slash));
    // A key as a URL's user, or a URL's path part (tester52f).
    assertEquals("openai:http:" + H + "@127.0.0.1:9/v1?model=m",
        Secrets.redact("openai:http://0123456789abcdef0123456789abcdef@127.0.0.1:9/v1?model=m"));
    assertEquals("give --url http:" + H, Secrets.redact("give --url http://4712f437-3eb5-4d8c-9c81-881743813519"));
    // Its padding goes with a key that does not begin with a slash too (tester52b: "(not shown...)=").
    assertEquals("--api_key=" + H, Secrets.redact("--api_key=rP1IdOQ0f+64OZ5zQL0j53eReR8xXlD/eJVQsYap80="));
  }

  /**
   * Hugging Face's class names, and a relative path whose first folder is there (a snapshot's, named by a commit's
   * hash), are shown as written (tester59b: an unsupported architecture, and the supported ones, were hidden).
   */
  @Test
  void classNamesAndRelativePathsThatAreThereAreShown() throws Exception {
    String line = "config.json: unsupported architecture \"Gemma2ForCausalLM\" (supported: Qwen2ForCausalLM, LlamaForCausalLM,"
        + " Qwen3ForCausalLM); Qwen2ForSequenceClassification, Qwen2Model, Qwen2TokenizerFast, MiniMaxM1ForCausalLM,"
        + " HunYuanMoEV1ForCausalLM, Qwen2_5_VLForConditionalGeneration";
    assertEquals(line, Secrets.redact(line));
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory(java.nio.file.Path.of("target"), "snapshots");
    try {
      String relative = "target/" + dir.getFileName() + "/989aa7980e4cf806f80c7fef2b1adb7bc71aa306/config.json";
      assertEquals(relative + ": not valid JSON", Secrets.redact(relative + ": not valid JSON"));
      // . and .. are always there: what follows them may be a key (tester59f).
      assertEquals("." + H, Secrets.redact("./sk-proj-Ab3dEf9hIjK2lMn0pQr7StU"));
      // Not there, it may be a key.
      assertEquals(H + ".json", Secrets.redact("989aa7980e4cf806f80c7fef2b1adb7bc71aa306/config.json"));
    } finally {
      java.nio.file.Files.delete(dir);
    }
  }

  @Test
  void namesPathsAndNumbersAreShownAsWritten() {
    for (String text : List.of(
        // An absolute path, a Hugging Face snapshot's included (tester52b: its hash hid half of it).
        "/models/hub/models--Qwen--Qwen2.5-1.5B/snapshots/8faed761d45a263340a0528343f099c05c9a4323",
        "--small=/data/year=2024/ckpt",
        // Relative paths and names with digits in them (tester52b: hidden whole).
        "ckpt/run1/checkpoint5000", "out/epoch3step4500", "runs/20261206T091500Z/cfg.yml",
        "Qwen2VL7BInstruct", "server01rack2row3",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "Qwen/Qwen3-30B-A3B-Instruct-2507", "--served-model-name2",
        "TENANT_A_API_KEY_2024", "tandem.session.step-check-interval", "exp42_lr3e4_bs128_seed7", "1e-400",
        "127.0.0.1:19100")) {
      assertEquals(text, Secrets.redact(text));
    }
  }

  /**
   * Over keys as Python's {@code secrets.token_urlsafe(32)} and {@code base64} of 32 random bytes
   * make them (from a seeded generator, so the figures do not move): at most 1% are shown. Hex keys
   * and uuids: none.
   */
  @Test
  void generatedKeysAreToldApartNearlyAlways() {
    Random random = new Random(52);
    int shownUrl = 0, shownStd = 0, shownHex = 0, n = 2000;
    for (int i = 0; i < n; i++) {
      byte[] bytes = new byte[32];
      random.nextBytes(bytes);
      if (!Secrets.keyLike(Base64.getUrlEncoder().withoutPadding().encodeToString(bytes))) shownUrl++;
      if (Secrets.redact(Base64.getEncoder().encodeToString(bytes)).contains(Base64.getEncoder().encodeToString(bytes)
          .substring(0, 12))) shownStd++;
      StringBuilder hex = new StringBuilder();
      for (byte b : bytes) hex.append(String.format("%02x", b));
      if (!Secrets.keyLike(hex.toString())) shownHex++;
    }
    assertTrue(shownUrl <= n / 100, shownUrl + " of " + n + " base64url keys shown");
    assertTrue(shownStd <= n / 100, shownStd + " of " + n + " base64 keys shown");
    assertEquals(0, shownHex);
    assertFalse(Secrets.keyLike("checkpoint5000"));
  }

  /** What cannot be told apart, as the README says: a key of letters alone (tester52b's 22 characters), or a short one. */
  @Test
  void aKeyOfLettersAloneOrAShortOneIsNotToldApart() {
    assertFalse(Secrets.keyLike("vdbYSZLdIUI_BbfolNCOTg"));
    assertFalse(Secrets.keyLike("a1B2c3D4e5F"));
  }
}
