use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = callerid_emulator::settings::Settings::parse();
    match callerid_emulator::run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callerid-emulator: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
