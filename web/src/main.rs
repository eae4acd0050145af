//! The page's entry point: installs the panic hook and mounts the app.

fn main() {
    memplay_web::start();
}
