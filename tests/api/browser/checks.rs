//! Checks any page must pass: no serious or critical accessibility violation found by
//! axe-core, and nothing wider than the window.

use std::{fmt, sync::LazyLock};

use serde::Deserialize;

use super::Browser;

/// axe-core, installed by `npm ci` in tests/browser (scripts/services.sh, `ensure_axe`).
const AXE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/node_modules/axe-core/axe.min.js");

static AXE: LazyLock<String> = LazyLock::new(|| {
    std::fs::read_to_string(AXE_PATH)
        .unwrap_or_else(|e| panic!("{AXE_PATH}: {e} (run `npm ci` in tests/browser; scripts/test does it)"))
});

/// Runs axe on the page and hands back its serious and critical violations.
const RUN_AXE: &str = "
    const done = arguments[arguments.length - 1];
    axe.run(document, { resultTypes: ['violations'] }).then(
        (results) => done(results.violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                targets: v.nodes.map((n) => n.target.join(' ')),
                summary: v.nodes[0] ? v.nodes[0].failureSummary : '',
            }))),
        (error) => done({ error: String(error) }),
    );";

/// Lists what sticks out sideways: the page itself when it scrolls sideways, and every
/// visible control that is not wholly inside the window, unless it sits in a box that
/// scrolls sideways on purpose or is wholly off the left edge, where the visually-hidden
/// idiom puts what only a screen reader is to find.
const FIND_OVERFLOW: &str = "
    const width = document.documentElement.clientWidth;
    const found = [];
    const page = document.documentElement.scrollWidth;
    if (page > width) found.push(`the page is ${page} px wide in a ${width} px window`);
    const scrolls = (el) => {
        for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
            if (['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) return true;
        }
        return false;
    };
    for (const el of document.querySelectorAll('button, input, select, a, textarea')) {
        if (el.type === 'hidden' || !el.checkVisibility({ visibilityProperty: true })) continue;
        const rect = el.getBoundingClientRect();
        if (rect.width < 2 || rect.height < 2 || rect.right <= 0 || scrolls(el)) continue;
        if (rect.left > -0.5 && rect.right < width + 0.5) continue;
        const name = el.tagName.toLowerCase() + (el.id ? `#${el.id}` : '');
        const text = (el.innerText || el.value || el.placeholder || el.name || '').trim().slice(0, 40);
        const where = `from ${Math.round(rect.left)} to ${Math.round(rect.right)} px of ${width}`;
        found.push(`${name} \"${text}\" spans ${where}`);
    }
    return found;";

/// One rule axe found broken, with the elements that break it.
#[derive(Debug, Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: String,
    pub help: String,
    /// The CSS selectors of the offending elements.
    pub targets: Vec<String>,
    /// What is wrong with the first of them.
    pub summary: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.targets.iter().take(4).map(String::as_str).collect::<Vec<_>>().join(", ");
        let more = self.targets.len().saturating_sub(4);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        write!(f, "{} ({}): {} at {shown}{more}", self.id, self.impact, self.help)
    }
}

impl Browser {
    /// Panics, naming the page and all that is wrong with it, unless the page has no
    /// serious or critical accessibility violation and fits the window's width (see
    /// [`Browser::set_width`]).
    pub async fn assert_accessible_and_fits(&self) {
        let problems = self.problems().await;
        if !problems.is_empty() {
            let (path, (width, _)) = (self.path().await, self.inner_size().await);
            panic!("{path} at {width} px fails its checks:\n  {}", problems.join("\n  "));
        }
    }

    /// What [`Browser::assert_accessible_and_fits`] finds wrong, a line for each problem.
    pub async fn problems(&self) -> Vec<String> {
        let violations = self.accessibility_violations().await;
        let summaries = violations.iter().map(|v| format!("{v}\n    {}", v.summary.replace('\n', "\n    ")));
        let overflow = self.overflow().await.into_iter().map(|finding| format!("too wide: {finding}"));
        summaries.chain(overflow).collect()
    }

    /// The page's serious and critical accessibility violations, by axe-core. axe goes in
    /// through WebDriver, which the page's Content-Security-Policy does not govern.
    pub async fn accessibility_violations(&self) -> Vec<Violation> {
        let load = format!("if (!window.axe) {{ {} }}; return typeof window.axe.run;", *AXE);
        let loaded = self.client.execute(&load, vec![]).await.expect("axe loads");
        assert_eq!(loaded, "function", "axe did not load on {}", self.path().await);
        let found = self.client.execute_async(RUN_AXE, vec![]).await.expect("axe runs");
        serde_json::from_value(found.clone()).unwrap_or_else(|_| panic!("axe failed: {found}"))
    }

    /// What is wider than the window: the page, and controls that reach past its edges.
    pub async fn overflow(&self) -> Vec<String> {
        let found = self.client.execute(FIND_OVERFLOW, vec![]).await.expect("the layout check runs");
        serde_json::from_value(found).unwrap()
    }
}
