package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.Rectangle;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * A person in a real (headless) Chromium window of 1280x757 reads what the playground is for,
 * asks a question, and sees both models' text in their colours, the math typeset and counters
 * that add up, with the whole answer box on the screen.
 */
class PlaygroundBrowserTest {
  static final File CHROMIUM = new File("/usr/bin/chromium");
  static final File DRIVER = new File("/usr/bin/chromedriver");
  static TestServer server;
  ChromeDriverService service;
  WebDriver browser;
  Path profile;

  @BeforeAll
  static void start() {
    assumeTrue(CHROMIUM.canExecute() && DRIVER.canExecute(),
        "skipped: /usr/bin/chromium or /usr/bin/chromedriver is missing (apt-get install -y chromium chromium-driver)");
    server = TestServer.start("");
  }

  @AfterAll
  static void stop() {
    if (server != null) server.close();
  }

  @BeforeEach
  void open() throws Exception {
    profile = Files.createTempDirectory("tandem-chromium");
    ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM).addArguments("--headless", "--no-sandbox",
        "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1280,757", "--user-data-dir=" + profile);
    service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER).usingAnyFreePort().build();
    browser = new ChromeDriver(service, options);
    browser.get(server.base + "/");
  }

  @AfterEach
  void close() throws IOException {
    if (browser != null) browser.quit();
    if (service != null) service.stop();
    // Chromium's profile (some 2 MB each): left behind, every run of the suite added four to /tmp.
    if (profile != null) {
      try (Stream<Path> files = Files.walk(profile)) {
        for (Path f : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
      }
    }
  }

  private void ask(String question, Object maxTokens) {
    browser.findElement(By.id("question")).clear();
    browser.findElement(By.id("question")).sendKeys(question);
    browser.findElement(By.id("maxTokens")).clear();
    browser.findElement(By.id("maxTokens")).sendKeys(String.valueOf(maxTokens));
    browser.findElement(By.id("ask")).click();
  }

  private int count(String id) {
    return Integer.parseInt(browser.findElement(By.id(id)).getText());
  }

  @Test
  void askingAQuestionStreamsSmallAndLargeModelTextInDifferentColours() {
    ask("What is 1 + 2?", 200);
    new WebDriverWait(browser, Duration.ofSeconds(60)).until(b ->
        !b.findElements(By.cssSelector("#output .author-small")).isEmpty()
            && !b.findElements(By.cssSelector("#output .author-large")).isEmpty()
            && b.findElement(By.id("status")).getText().contains("tokens"));
    String small = browser.findElement(By.cssSelector("#output .author-small")).getCssValue("background-color");
    String large = browser.findElement(By.cssSelector("#output .author-large")).getCssValue("background-color");
    assertFalse(small.equals(large), "the two models' text has different colours: " + small + " vs " + large);
    assertTrue(browser.findElement(By.id("output")).getText().startsWith("Let me verify"));
    assertTrue(count("cLarge") > 0, "the large-model counter went up");
    assertTrue(browser.findElement(By.id("status")).getText().contains("200 tokens"));
  }

  @Test
  void theCountersAreTokensAndAddUpToTheAnswersLength() {
    ask("What is 1 + 2?", 150);
    new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("done"));
    String counters = browser.findElement(By.id("counters")).getText();
    assertTrue(counters.startsWith("tokens:") && !counters.contains("pieces"), counters);
    assertEquals("done, 150 tokens: cut short at max tokens", browser.findElement(By.id("status")).getText());
    assertEquals(150, count("cSmall") + count("cLarge") + count("cInjected"), counters);
  }

  /**
   * Leaving the page mid-answer stops the request on the server (tester46b: Chromium's back/forward
   * cache kept the page, and its request ran on to its last token for nobody).
   */
  @Test
  void leavingThePageMidAnswerCancelsItsRequest() throws Exception {
    double before = server.count("tandem:requests_cancelled_total");
    server.gate.close();
    try {
      ask("What is 1 + 2?", 150);
      TestServer.eventually("the answer is under way, held at the gate", () -> server.gate.held() >= 1);
      browser.get("data:text/html,<p>elsewhere</p>");
      TestServer.eventually("the request was cancelled", () -> server.count("tandem:requests_cancelled_total") > before);
    } finally {
      server.gate.open();
    }
  }

  /** A max tokens the field cannot read is said, not sent as 512 (tester48c: 1e999). */
  @Test
  void aMaxTokensThePageCannotReadIsSaidNotReplaced() {
    ask("What is 1 + 2?", "1e999");
    String said = browser.findElement(By.cssSelector("#status .error")).getText();
    assertTrue(said.startsWith("max tokens is not a number"), said);
  }

  /** A max tokens of 0 is sent as typed and the server's refusal shown (tester44a: the page sent 512 without a word). */
  @Test
  void aMaxTokensOfZeroGetsTheServersRefusal() {
    ask("What is 1 + 2?", 0);
    new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> !b.findElements(By.cssSelector("#status .error")).isEmpty());
    String said = browser.findElement(By.cssSelector("#status .error")).getText();
    assertTrue(said.startsWith("400: ") && said.contains("max_tokens"), said);
  }

  @Test
  void thePageSaysWhatTheDemoModelsCanDoAndWhatInjectedMeans() {
    String intro = browser.findElements(By.cssSelector(".intro")).stream().map(WebElement::getText)
        .reduce("", (a, b) -> a + " " + b);
    assertTrue(intro.contains("adding six two-digit numbers"), intro);
    assertTrue(intro.contains("injected: words Tandem itself inserts, written by neither model"), intro);
    WebElement hint = browser.findElement(By.id("hint"));
    assertFalse(hint.isDisplayed(), "no hint for the demo task's own question");
    browser.findElement(By.id("question")).clear();
    browser.findElement(By.id("question")).sendKeys("Who wrote Hamlet?");
    assertTrue(hint.isDisplayed(), "an off-task question is told why the demo pair answers word salad");
    assertTrue(hint.getText().contains("word salad"), hint.getText());
    browser.findElements(By.cssSelector(".example")).get(0).click();
    assertFalse(hint.isDisplayed(), "an example is the demo task");
    WebElement low = browser.findElement(By.id("lowHint"));
    assertFalse(low.isDisplayed(), "an example's total is in the trained range");
    // The task's sum in another form than the pair learnt, which it answered wrongly (tester51a: 446 for 374 without the
    // full stop, 182 without the spaces).
    for (String near : java.util.List.of("Compute 40 + 85 + 79 + 26 + 57 + 87", "Compute 40+85+79+26+57+87.",
        "Compute 05 + 85 + 79 + 26 + 57 + 87.", "Compute  40 + 85 + 79 + 26 + 57 + 87.")) {
      browser.findElement(By.id("question")).clear();
      browser.findElement(By.id("question")).sendKeys(near);
      assertTrue(hint.isDisplayed(), "not the form the pair learnt: " + near);
    }
    // After eval's instruction, as the pair was trained on it too (tester56c).
    browser.findElement(By.id("question")).clear();
    browser.findElement(By.id("question")).sendKeys("Please reason step by step, and put your final answer within \\boxed{}."
        + " Compute 40 + 85 + 79 + 26 + 57 + 87.");
    assertFalse(hint.isDisplayed(), "eval's form of the demo task");
    browser.findElement(By.id("question")).clear();
    browser.findElement(By.id("question")).sendKeys("Compute 10 + 10 + 10 + 10 + 10 + 10.");
    assertFalse(hint.isDisplayed(), "a sum of six two-digit numbers is the demo task");
    assertTrue(low.isDisplayed() && low.getText().contains("likely wrong"), "a total below 100 is outside what the pair learnt");
  }

  /**
   * A server whose models are not the demo pair shows none of the demo's intro, examples or hints
   * (tester54a: the hint told someone serving their own models to serve real models), and a max
   * tokens left empty sends none, so the answer may take what the context leaves (a fixed 512 was
   * refused by a model of 512 tokens' context).
   */
  @Test
  void ownModelsGetNoDemoHintsAndAnEmptyMaxTokensSendsNone() throws Exception {
    try (TestServer own = TestServer.start("", HttpSettings.DemoPair.NOT_SERVED)) {
      browser.get(own.base + "/");
      for (String id : java.util.List.of("demoIntro", "examples", "hint", "lowHint"))
        assertFalse(browser.findElement(By.id(id)).isDisplayed(), id);
      browser.findElement(By.id("question")).clear();
      browser.findElement(By.id("question")).sendKeys("Who wrote Hamlet?");
      assertFalse(browser.findElement(By.id("hint")).isDisplayed(), "no demo-task hint for the server's own models");
      assertEquals("", browser.findElement(By.id("maxTokens")).getAttribute("value"));
      browser.findElement(By.id("ask")).click();
      new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("done"));
      // The scripted models' answer runs to its end of text, not to a limit the page chose.
      String status = browser.findElement(By.id("status")).getText();
      assertTrue(status.startsWith("done, ") && !status.contains("cut short"), status);
    }
    // The demo pair's page (this class's server says unknown, shown as the demo pair) keeps them.
    browser.get(server.base + "/");
    assertTrue(browser.findElement(By.id("demoIntro")).isDisplayed() && browser.findElement(By.id("examples")).isDisplayed());
  }

  /** A command named as a property every JavaScript object has is written as it stands (tester54a: \toString showed a function's source). */
  @Test
  void aCommandNamedAsAnObjectsPropertyIsWrittenAsItStands() {
    ((JavascriptExecutor) browser).executeScript("render([{author: 'small', reasoning: false, text: 'So $\\\\toString$ and "
        + "$\\\\constructor{x}$ and $\\\\times$.'}])");
    String text = browser.findElement(By.id("output")).getText();
    assertFalse(text.contains("function") || text.contains("native code"), text);
    assertTrue(text.contains("\\toString") && text.contains("\\constructor") && text.contains("×"), text);
  }

  /** A command after ^, _, \sqrt or \frac is one argument, as TeX reads it (tester54f: 90^\circ raised the backslash alone). */
  @Test
  void aCommandIsOneArgumentAsTexReadsIt() {
    JavascriptExecutor js = (JavascriptExecutor) browser;
    assertEquals("90<sup>∘</sup>", js.executeScript("return latex(arguments[0])", "90^\\circ"));
    assertEquals("e<sup>π</sup>", js.executeScript("return latex(arguments[0])", "e^\\pi"));
    assertEquals("a<sub>∞</sub>", js.executeScript("return latex(arguments[0])", "a_\\infty"));
    assertEquals("√<span style=\"text-decoration: overline\">π</span>", js.executeScript("return latex(arguments[0])", "\\sqrt\\pi"));
    assertEquals("<span class=\"frac\"><span>π</span><span>2</span></span>", js.executeScript("return latex(arguments[0])",
        "\\frac\\pi2"));
    // LaTeX's escaped specials are the characters themselves.
    assertEquals("a_b &amp; #1", js.executeScript("return latex(arguments[0])", "a\\_b \\& \\#1"));
    // A command that takes arguments takes them along (tester54h: x^\\frac12 raised \\frac alone).
    assertEquals("x<sup><span class=\"frac\"><span>1</span><span>2</span></span></sup>",
        js.executeScript("return latex(arguments[0])", "x^\\frac12"));
    // An escaped dollar inside $...$ does not close it (tester54h: $\\$5$ was shown as text).
    js.executeScript("render([{author: 'small', reasoning: false, text: 'So $\\\\$5 \\\\times 3$ in all.'}])");
    assertEquals("So $5 × 3 in all.", browser.findElement(By.id("output")).getText());
    // A space before each argument is skipped, as TeX skips it (tester54i: \\frac{1} {2} was 1 over a space).
    assertEquals("<span class=\"frac\"><span>1</span><span>2</span></span>", js.executeScript("return latex(arguments[0])",
        "\\frac{1} {2}"));
    // Nesting stops at a depth, the rest written as it stands: a browser took minutes to lay out 1,000 roots (tester54i).
    js.executeScript("render([{author: 'small', reasoning: false, text: '$' + '\\\\sqrt'.repeat(1000) + 'x$'}])");
    long roots = (Long) js.executeScript("return document.querySelectorAll('#output span[style]').length");
    assertTrue(roots > 0 && roots <= 25, roots + " nested roots");
    // Nor is the stack overflowed finding a command's arguments (tester54j: 10,000 roots, a RangeError on every render).
    js.executeScript("render([{author: 'small', reasoning: false, text: '$' + '\\\\sqrt'.repeat(10000) + 'x$'}])");
    // Each root drawn shows √ for its 5 characters; the rest as written, and the x.
    assertEquals(10000 * 5 + 1, ((String) js.executeScript("return document.getElementById('output').textContent")).length()
        + 4 * (long) js.executeScript("return document.querySelectorAll('#output span[style]').length"),
        "every character is shown, as written or as a root");
    // A space after ^ or _ is skipped, as TeX skips it (tester54j: x^ 2 raised the space).
    assertEquals("x<sup>2</sup>", js.executeScript("return latex(arguments[0])", "x^ 2"));
    // A root's index is set as TeX sets it, not written "[3]8" under the root (tester54); a cube or fourth root as its
    // character, which a copy or a screen reader does not read as 3 times a root (tester55d).
    assertEquals("∛<span style=\"text-decoration: overline\">8</span>", js.executeScript("return latex(arguments[0])",
        "\\sqrt[3]{8}"));
    assertEquals("∜<span style=\"text-decoration: overline\">16</span>", js.executeScript("return latex(arguments[0])",
        "\\sqrt[4]{16}"));
    assertEquals("x<sup><sup class=\"root-index\">n</sup>√<span style=\"text-decoration: overline\">y</span></sup>",
        js.executeScript("return latex(arguments[0])", "x^\\sqrt[n]y"));
    js.executeScript("render([{author: 'small', reasoning: false, text: 'So \\\\sqrt[3]{27} = 3.'}])");
    assertEquals("So ∛27 = 3.", browser.findElement(By.id("output")).getText());
    js.executeScript("render([{author: 'small', reasoning: false, text: 'So \\\\sqrt[3] {27} and \\\\frac{1} {2}.'}])");
    assertEquals(2L, js.executeScript("return document.querySelectorAll('#output span[style], #output .frac').length"),
        "a space before an argument is skipped outside $...$ too");
    // A group's end is found once per text (tester55d: an unclosed "{" made each command after it scan to the end).
    assertEquals(7L, js.executeScript("return groupEnd(arguments[0], 0)", "{a{b}c}d"));
    assertEquals(-1L, js.executeScript("return groupEnd(arguments[0], 0)", "{a{b}c"));
    assertEquals(4L, js.executeScript("return groupEnd(arguments[0], 0)", "{\\}}}"));
    // A brace without its partner is shown as written; one that groups is not (tester55f: $x^{2$ read as x squared).
    assertEquals("x^{2", js.executeScript("return latex(arguments[0])", "x^{2"));
    assertEquals("a}b", js.executeScript("return latex(arguments[0])", "a}b"));
    assertEquals("\\sqrt[3", js.executeScript("return latex(arguments[0])", "\\sqrt[3"));
    assertEquals("∛<span style=\"text-decoration: overline\">8</span>", js.executeScript("return latex(arguments[0])",
        "\\sqrt [3]{8}"));
    assertEquals("ab", js.executeScript("return latex(arguments[0])", "{a}b"));
    // Outside $...$ too, and an index with spaces inside is the same index (tester55i: both left as written, or "[ 3 ]" set
    // small before the root where "3" was ∛).
    js.executeScript("render([{author: 'small', reasoning: false, text: 'So \\\\sqrt [3]{27} = \\\\sqrt[ 3 ]{27} = 3.'}])");
    assertEquals("So ∛27 = ∛27 = 3.", browser.findElement(By.id("output")).getText());
    // A closing delimiter not found from one place is not looked for again from a later one (tester55f: each unclosed
    // \( searched the rest of the answer, seconds for 33,000).
    assertEquals(java.util.List.of(0L, 3L), js.executeScript("const m = new Map(); const a = closeAt('ab \\\\(', '\\\\)', 0, m);"
        + " closeAt('ab \\\\(', '\\\\)', 4, m); return [m.get('\\\\)'), closeAt('ab \\\\)', '\\\\)', 0, new Map())];"));
    // An index is looked for a short way only: 10,000 "\sqrt[" unclosed would each scan the rest of the answer.
    assertEquals(8L, js.executeScript("return optionEnd(arguments[0], 5)", "\\sqrt[3]{8}"));
    assertEquals(5L, js.executeScript("return optionEnd(arguments[0], 5)", "\\sqrt[" + "x".repeat(100) + "]{8}"));
  }

  @Test
  void boxedAnswersAndSimpleLatexAreTypesetNotShownAsSource() {
    ((JavascriptExecutor) browser).executeScript("render([{author: 'small', reasoning: false, text: 'So 40 + 85 = 125, "
        + "and $\\\\frac{1}{2} \\\\times 4 = 2^{1}$.\\n\\n'}, "
        + "{author: 'large', reasoning: false, text: 'The final answer is \\\\boxed{374}.'}])");
    WebElement output = browser.findElement(By.id("output"));
    String text = output.getText();
    assertFalse(text.contains("\\boxed") || text.contains("\\frac") || text.contains("\\times") || text.contains("$"), text);
    assertTrue(text.contains("× 4 = 2"), text);
    WebElement boxed = output.findElement(By.cssSelector(".boxed"));
    assertEquals("374", boxed.getText());
    assertEquals("author-large math", boxed.findElement(By.xpath("..")).getAttribute("class"), "in its author's colour");
    assertTrue(boxed.getCssValue("border-top-style").equals("solid"), "a box around the answer");
    assertEquals(1, output.findElements(By.cssSelector(".frac")).size());
    assertEquals(1, output.findElements(By.cssSelector("sup")).size());
    // Prices are text, each paragraph in its author's colour (tester48c: the large model's paragraph between "$5" and "$20"
    // was typeset in the small model's colour, its $ signs gone).
    ((JavascriptExecutor) browser).executeScript("render([{author: 'small', reasoning: false, text: 'A pen costs $5.\\n\\n'}, "
        + "{author: 'large', reasoning: false, text: 'Wait, the book costs 3*5 = 15; together $20.'}])");
    assertTrue(output.getText().contains("costs $5.") && output.getText().endsWith("together $20."), output.getText());
    assertTrue(output.findElements(By.cssSelector(".math")).isEmpty(), "no math");
    assertEquals("Wait, the book costs 3*5 = 15; together $20.", output.findElement(By.cssSelector(".author-large")).getText());
    // LaTeX's escaped dollar is a dollar.
    ((JavascriptExecutor) browser).executeScript("render([{author: 'small', reasoning: false, text: 'costs \\\\$5 and \\\\$20'}])");
    assertEquals("costs $5 and $20", output.getText());
    // A formula two authors wrote (a takeover's span ends mid-formula) is shown as written, each part in its author's
    // colour, not typeset in the first one's (tester51a: the small model's "677}" in the large model's colour).
    ((JavascriptExecutor) browser).executeScript("render([{author: 'large', reasoning: false, text: 'So $x = \\\\frac{1}{'}, "
        + "{author: 'small', reasoning: false, text: '2}$ and the answer is \\\\bo'}, {author: 'large', reasoning: false, "
        + "text: 'xed{5}.'}])");
    assertTrue(output.findElements(By.cssSelector(".math")).isEmpty(), "no formula typeset: " + output.getText());
    assertEquals(java.util.List.of("So $x = \\frac{1}{", "xed{5}."), output.findElements(By.cssSelector(".author-large"))
        .stream().map(WebElement::getText).toList());
    assertEquals("2}$ and the answer is \\bo", output.findElement(By.cssSelector(".author-small")).getText());
    // A \boxed{...} not closed yet (still streaming) stays text until it is.
    ((JavascriptExecutor) browser).executeScript("render([{author: 'small', reasoning: false, text: 'is \\\\boxed{37'}])");
    assertTrue(output.getText().endsWith("\\boxed{37"), output.getText());
  }

  @Test
  void aLongAnswerStaysInsideTheAnswerBoxOnA1280x757Screen() throws Exception {
    ask("What is 1 + 2?", 400);
    new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("done"));
    long viewport = (Long) ((JavascriptExecutor) browser).executeScript("return window.innerHeight");
    Rectangle box = browser.findElement(By.id("output")).getRect();
    Path shot = Path.of("target", "playground-1280x757.png");
    Files.createDirectories(shot.getParent());
    Files.copy(((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath(), shot, StandardCopyOption.REPLACE_EXISTING);
    assertTrue(box.getY() + box.getHeight() <= viewport, "the answer box ends on screen (" + shot + "): " + box.getY()
        + " + " + box.getHeight() + " > " + viewport);
    assertTrue(box.getHeight() >= 0.4 * viewport, "the answer box has the room the controls leave, at least 40% of the"
        + " screen: " + box.getHeight() + " of " + viewport + " px");
    Boolean scrolledToEnd = (Boolean) ((JavascriptExecutor) browser).executeScript(
        "const o = document.getElementById('output'); return o.scrollHeight > o.clientHeight"
            + " && o.scrollTop + o.clientHeight >= o.scrollHeight - 4;");
    assertTrue(scrolledToEnd, "a long answer scrolls inside the box, which follows the end of the text");
  }

  /**
   * An API key emptied from its box is forgotten: on a keyed server the 401 to no key kept the old
   * key in the browser for good (tester62c).
   */
  @Test
  void anApiKeyEmptiedFromItsBoxIsForgotten() throws Exception {
    try (TestServer keyed = TestServer.start("tandem.http.api-keys = [{key = sk-playground-0123456789abcdef, tenant = web}]\n")) {
      browser.get(keyed.base + "/");
      browser.findElement(By.id("key")).sendKeys("sk-playground-0123456789abcdef");
      ask("What is 1 + 2?", 5);
      new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("done"));
      browser.navigate().refresh();
      assertEquals("sk-playground-0123456789abcdef", browser.findElement(By.id("key")).getAttribute("value"), "kept");
      WebElement box = browser.findElement(By.id("key"));
      box.sendKeys(org.openqa.selenium.Keys.chord(org.openqa.selenium.Keys.CONTROL, "a"), org.openqa.selenium.Keys.DELETE);
      browser.navigate().refresh();
      assertEquals("", browser.findElement(By.id("key")).getAttribute("value"), "forgotten as the box was emptied");
      ask("What is 1 + 2?", 5);
      new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("401"));
      browser.navigate().refresh();
      assertEquals("", browser.findElement(By.id("key")).getAttribute("value"), "still forgotten after a 401");
      // Emptied while the answer is awaited: the answer does not store it again (tester62g).
      browser.findElement(By.id("key")).sendKeys("sk-playground-0123456789abcdef");
      keyed.gate.close();
      try {
        ask("What is 1 + 2?", 5);
        TestServer.eventually("the answer is under way, held at the gate", () -> keyed.gate.held() >= 1);
        browser.findElement(By.id("key")).sendKeys(org.openqa.selenium.Keys.chord(org.openqa.selenium.Keys.CONTROL, "a"),
            org.openqa.selenium.Keys.DELETE);
      } finally {
        keyed.gate.open();
      }
      new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("done"));
      browser.navigate().refresh();
      assertEquals("", browser.findElement(By.id("key")).getAttribute("value"), "emptied while the answer was awaited");
    }
    browser.get(server.base + "/");
  }

  /** An answer cut short with no max tokens given filled the model's context: it is not told as max tokens (tester62c). */
  @Test
  void anAnswerCutShortWithNoMaxTokensSaysTheContextFilled() {
    try (TestServer small = TestServer.start("", 60)) {
      browser.get(small.base + "/");
      browser.findElement(By.id("question")).clear();
      browser.findElement(By.id("question")).sendKeys("What is 1 + 2?");
      browser.findElement(By.id("ask")).click();
      new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("done"));
      String status = browser.findElement(By.id("status")).getText();
      assertTrue(status.endsWith(": cut short, the model's context full"), status);
    }
    browser.get(server.base + "/");
  }

  /**
   * Keyboard: Ctrl+Enter in the question asks, Escape stops the answer, and a screen reader is told
   * who wrote each part, in words generated by CSS that are no part of the answer's text (tester62c).
   */
  @Test
  void theKeyboardAsksAndStopsAndEachAuthorIsSaidInWords() throws Exception {
    server.gate.close();
    try {
      browser.findElement(By.id("question")).clear();
      browser.findElement(By.id("question")).sendKeys("What is 1 + 2?");
      browser.findElement(By.id("question")).sendKeys(org.openqa.selenium.Keys.chord(org.openqa.selenium.Keys.CONTROL,
          org.openqa.selenium.Keys.ENTER));
      TestServer.eventually("the answer is under way, held at the gate", () -> server.gate.held() >= 1);
      assertEquals("What is 1 + 2?", browser.findElement(By.id("question")).getAttribute("value"), "no newline added");
      browser.findElement(By.tagName("body")).sendKeys(org.openqa.selenium.Keys.ESCAPE);
      new WebDriverWait(browser, Duration.ofSeconds(30)).until(b -> b.findElement(By.id("status")).getText().equals("stopped"));
    } finally {
      server.gate.open();
    }
    ask("What is 1 + 2?", 200);
    new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("done"));
    JavascriptExecutor js = (JavascriptExecutor) browser;
    @SuppressWarnings("unchecked")
    java.util.List<String> said = (java.util.List<String>) js.executeScript("return [...document.querySelectorAll('#output span')]"
        + ".map(e => getComputedStyle(e, '::before').content).filter(c => c !== 'none')");
    assertTrue(said.size() >= 2 && said.get(0).equals("\"[small model] \"") && said.contains("\"[large model] \""), said.toString());
    assertTrue(browser.findElement(By.id("output")).getText().startsWith("Let me verify"), "the words are no part of the text");
  }

  /**
   * A formula is read to a screen reader as its LaTeX without delimiters, after the author's words
   * when a part begins with it (inside an image the generated words were not read); the question
   * goes trimmed, as the demo pair learnt it (tester62e: a trailing newline cost a fifth of its sums).
   */
  @Test
  void aFormulaIsReadAsItsLatexAfterItsAuthorAndTheQuestionGoesTrimmed() {
    JavascriptExecutor js = (JavascriptExecutor) browser;
    @SuppressWarnings("unchecked")
    java.util.List<String> labels = (java.util.List<String>) js.executeScript("render([{author: 'small', reasoning: false,"
        + " text: 'So x is $\\\\frac{1}{2}$ and '}, {author: 'large', reasoning: false, text: '$\\\\frac{3}{4}$ exactly.'}]);"
        + " return [...document.querySelectorAll('#output .math')].map(e => e.getAttribute('aria-label'))");
    assertEquals(java.util.List.of("\\frac{1}{2}", "[large model] \\frac{3}{4}"), labels);
    js.executeScript("window.sent = []; const f = window.fetch; window.fetch = (u, o) => { window.sent.push(o.body); return f(u, o); }");
    ask("  What is 1 + 2?\n", 5);
    new WebDriverWait(browser, Duration.ofSeconds(60)).until(b -> b.findElement(By.id("status")).getText().startsWith("done"));
    String body = (String) js.executeScript("return window.sent[0]");
    assertTrue(body.contains("\"content\":\"What is 1 + 2?\""), body);
  }
}
