//! Import Licence Renewal: upload a CSV (stored through the app's upload
//! port, then previewed by the same core path the S3 event runs), pick the
//! e-mail column from its samples, read the preview, "Renew Licences".

use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::response::Response;
use maud::html;
use seatkeeper_core::csv_import::Limits;
use seatkeeper_core::imports::object_key;
use seatkeeper_core::model::ImportStatus;
use seatkeeper_core::ports::StoreError;
use seatkeeper_core::ServiceError;
use std::sync::Arc;

use super::shared::{columns, company, company_nav, scrolling, CompanyVisit};
use crate::visitor::{refused, Flash, Submission};
use crate::{Console, Visitor};

/// How long a confirm works before it answers; a confirm resumes the rest.
const CONFIRM_BUDGET: Duration = Duration::from_secs(20);

fn import_page(c: &str) -> String {
    format!("/companies/{c}/import")
}

pub async fn start(CompanyVisit { visitor, view, .. }: CompanyVisit) -> Response {
    let company = &view.company;
    let main = html! {
        h1 { "Import Licence Renewal" }
        (company_nav(company, "Import Licence Renewal"))
        p { "Upload a CSV file with one row per learner to renew. You choose the e-mail column and see what will happen before anything changes." }
        form method="post" action=(import_page(company.id.as_str())) enctype="multipart/form-data" {
            (visitor.csrf())
            p {
                label for="file" { "CSV file" }
                input #file type="file" name="file" accept=".csv,text/csv" required;
            }
            button type="submit" { "Upload" }
        }
    };
    visitor.page("Import Licence Renewal", Some(company), main)
}

/// The multipart upload: checks the CSRF field, starts an import, stores
/// the file where the upload URL would have put it, and previews it.
pub async fn upload(
    State(console): State<Arc<Console>>,
    Path(c): Path<String>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let visitor = match <Visitor as axum::extract::FromRequestParts<_>>::from_request_parts(
        &mut parts, &console,
    )
    .await
    {
        Ok(visitor) => visitor,
        Err(_) => return refused(None),
    };
    let Ok(mut multipart) =
        Multipart::from_request(Request::from_parts(parts, body), &console).await
    else {
        return refused(Some(&visitor));
    };
    let (mut csrf, mut file) = (None, None);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.ok(),
                Some("file") => file = field.bytes().await.ok(),
                _ => {}
            },
            Ok(None) => break,
            Err(_) => return refused(Some(&visitor)),
        }
    }
    if !visitor.session.csrf_matches(csrf.as_deref()) {
        return refused(Some(&visitor));
    }
    let view = match company(&visitor, &c).await {
        Ok(view) => view,
        Err(page) => return page,
    };
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        let flash = Flash {
            error: true,
            text: "Choose a CSV file to upload.".to_string(),
        };
        return visitor.redirect_with(&import_page(&c), &flash);
    };
    let app = visitor.app();
    let result = async {
        let ticket = app
            .service
            .create_import(&visitor.caller, &c, None, None, app.uploads.as_ref())
            .await?;
        let key = object_key(&view.company.id, &ticket.import_id);
        app.uploads
            .put(&key, &file)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        app.service
            .preview_upload(
                &key,
                None,
                app.objects.as_ref(),
                app.uploads.bucket(),
                Limits::default(),
            )
            .await?;
        Ok::<_, ServiceError>(ticket.import_id)
    }
    .await;
    match result {
        Ok(id) => crate::see_other(&format!("{}/{id}", import_page(&c))),
        Err(e) => visitor.after::<()>(Err(e), &import_page(&c), |()| String::new()),
    }
}

pub async fn show(
    CompanyVisit {
        visitor,
        view,
        id: c,
    }: CompanyVisit,
    Path((_, i)): Path<(String, String)>,
) -> Response {
    let company = &view.company;
    let import = match visitor
        .app()
        .service
        .get_import(&visitor.caller, &c, &i)
        .await
    {
        Ok(import) => import,
        Err(e) => return visitor.fail(e),
    };
    let here = format!("{}/{}", import_page(company.id.as_str()), import.import_id);
    let counts = &import.counts;
    let previewed = matches!(import.status, ImportStatus::Previewed);
    let seats_type = import
        .seats
        .as_ref()
        .map(|s| s.licence_type.to_string())
        .or_else(|| view.pools.first().map(|p| p.licence_type.to_string()))
        .unwrap_or_default();
    let main = html! {
        h1 { "Import Licence Renewal" }
        (company_nav(company, "Import Licence Renewal"))
        @if let Some(failure) = &import.failure {
            p.alert role="alert" { (failure) }
        }
        @if !import.columns.is_empty() {
            (visitor.form(&format!("{here}/preview"), html! {
                p {
                    label for="email_column" { "E-mail column" }
                    select #email_column name="email_column" {
                        @for column in &import.columns {
                            option value=(column.name) selected[import.email_column.as_deref() == Some(column.name.as_str())] {
                                (column.name)
                                @if !column.samples.is_empty() { " (e.g. " (column.samples.join(", ")) ")" }
                            }
                        }
                    }
                }
                button type="submit" { "Preview" }
            }))
        }
        @if import.email_column.is_some() && matches!(import.status, ImportStatus::Previewed | ImportStatus::Committing | ImportStatus::Committed) {
            section aria-labelledby="preview-heading" {
                h2 #preview-heading { "Preview" }
                ul {
                    li { "Will be renewed: " (counts.to_renew) }
                    li { "Will not be renewed: " (counts.not_renewed) }
                    li { "Already active: " (counts.already_active) }
                    li { "Not members: " (counts.unknown) }
                    li { "Invalid e-mails: " (counts.invalid) }
                    li { "Duplicates: " (counts.duplicate) }
                }
                @if let Some(seats) = &import.seats {
                    p { (seats.licence_type) ": " (seats.needed) " seats needed, " (seats.available) " available." }
                }
                @if !import.problems.is_empty() {
                    (scrolling("Problems", html! { table {
                        caption { "Problems (" (import.problems_total) ")" }
                        (columns(&["Row", "E-mail", "Reason"]))
                        tbody {
                            @for problem in &import.problems {
                                tr { th scope="row" { (problem.row) } td { (problem.email) } td { (problem.reason) } }
                            }
                        }
                    }}))
                }
                @if previewed {
                    (visitor.form(&format!("{here}/confirm"), html! {
                        input type="hidden" name="licence_type" value=(seats_type);
                        button type="submit" { "Renew Licences" }
                    }))
                }
            }
        }
        @if let Some(renewed) = import.renewed {
            p role="status" { "Renewed: " (renewed) }
        }
    };
    visitor.page("Import Licence Renewal", Some(company), main)
}

pub async fn preview(Path((c, i)): Path<(String, String)>, form: Submission) -> Response {
    let app = form.visitor.app();
    let result = app
        .service
        .repreview_import(
            &form.visitor.caller,
            &c,
            &i,
            &form.fields.text("email_column"),
            app.objects.as_ref(),
            app.uploads.bucket(),
            Limits::default(),
        )
        .await;
    let here = format!("{}/{i}", import_page(&c));
    form.visitor
        .after(result, &here, |_| "Preview updated.".to_string())
}

pub async fn confirm(Path((c, i)): Path<(String, String)>, form: Submission) -> Response {
    let result = form
        .visitor
        .app()
        .service
        .confirm_import(
            &form.visitor.caller,
            &c,
            &i,
            &form.fields.text("licence_type"),
            Some(Instant::now() + CONFIRM_BUDGET),
        )
        .await;
    let here = format!("{}/{i}", import_page(&c));
    form.visitor.after(result, &here, |done| match done.status {
        ImportStatus::Committed => format!("Renewed {} licences.", done.renewed),
        _ => format!(
            "Renewed {} licences so far: press Renew Licences again to finish.",
            done.renewed
        ),
    })
}
