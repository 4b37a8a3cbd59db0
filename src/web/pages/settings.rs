//! Job Settings: every setting with its value, its default, its meaning and the values
//! it takes; each changed on its own, checked as `cronq settings KEY VALUE` checks it.

use super::{layout, Section, View};
use crate::settings::{Settings, KEYS};
use maud::{html, Markup};

/// The page; `refused` is a value that was not saved, with why, to show beside its key.
pub fn page(view: &View, current: &Settings, refused: Option<(&str, &str, &str)>) -> Markup {
    let values = current.pairs();
    let defaults = Settings::default().pairs();
    let value_of = |pairs: &[(&str, String)], name: &str| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let content = html! {
        p.muted { "Changes apply from the next pass on every host." }
        @if let Some((name, _, why)) = refused.filter(|(k, _, _)| !KEYS.iter().any(|key| key.name == *k)) {
            p.error role="alert" { "Not saved: " (why) " (" (name) ")" }
        }
        div #settings {
            @for key in KEYS {
                @let value = value_of(&values, key.name);
                @let default = value_of(&defaults, key.name);
                @let problem = refused.filter(|(k, _, _)| *k == key.name);
                form.setting method="post" action="/settings" id={ "setting-" (key.name) } {
                    input type="hidden" name="key" value=(key.name);
                    label for={ "value-" (key.name) } { code { (key.name) } }
                    p.help #{ "help-" (key.name) } {
                        (key.help) ". Default " code { (default) }
                        @if let Some((low, high)) = key.range() { "; from " (low) " to " (high) }
                        "."
                        @if value != default { " " strong { "Changed." } }
                    }
                    @match key.range() {
                        None => {
                            select id={ "value-" (key.name) } name="value" aria-describedby={ "help-" (key.name) } disabled[!view.may_act()] {
                                option value="true" selected[value == "true"] { "true" }
                                option value="false" selected[value == "false"] { "false" }
                            }
                        }
                        Some((low, high)) => {
                            input id={ "value-" (key.name) } name="value" type="number" min=(low) max=(high)
                                value=(problem.map(|(_, typed, _)| typed.to_string()).unwrap_or(value.clone()))
                                aria-describedby={ "help-" (key.name) } required disabled[!view.may_act()];
                        }
                    }
                    @if view.may_act() { button type="submit" { "Save" } }
                    @if let Some((_, _, why)) = problem { p.error role="alert" { (why) } }
                }
            }
        }
    };
    layout(view, Section::Settings, "Job Settings", content)
}
