package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/** A person in a real (headless) Chromium asks a question and sees both models' text in their colours. */
class PlaygroundBrowserTest {
  static final File CHROMIUM = new File("/usr/bin/chromium");
  static final File DRIVER = new File("/usr/bin/chromedriver");
  static TestServer server;

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

  @Test
  void askingAQuestionStreamsSmallAndLargeModelTextInDifferentColours() throws Exception {
    Path profile = Files.createTempDirectory("tandem-chromium");
    ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM).addArguments("--headless", "--no-sandbox",
        "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile);
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER).usingAnyFreePort().build();
    WebDriver browser = new ChromeDriver(service, options);
    try {
      browser.get(server.base + "/");
      browser.findElement(By.id("question")).clear();
      browser.findElement(By.id("question")).sendKeys("What is 1 + 2?");
      browser.findElement(By.id("maxTokens")).clear();
      browser.findElement(By.id("maxTokens")).sendKeys("200");
      browser.findElement(By.id("ask")).click();
      new WebDriverWait(browser, Duration.ofSeconds(60)).until(b ->
          !b.findElements(By.cssSelector("#output .author-small")).isEmpty()
              && !b.findElements(By.cssSelector("#output .author-large")).isEmpty()
              && b.findElement(By.id("status")).getText().contains("tokens"));
      String small = browser.findElement(By.cssSelector("#output .author-small")).getCssValue("background-color");
      String large = browser.findElement(By.cssSelector("#output .author-large")).getCssValue("background-color");
      assertFalse(small.equals(large), "the two models' text has different colours: " + small + " vs " + large);
      assertTrue(browser.findElement(By.id("output")).getText().startsWith("Let me verify"));
      assertTrue(Integer.parseInt(browser.findElement(By.id("cLarge")).getText()) > 0, "the large-model counter went up");
      assertTrue(browser.findElement(By.id("status")).getText().contains("200 tokens"));
    } finally {
      browser.quit();
      service.stop();
    }
  }
}
