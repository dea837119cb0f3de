// Lets the module be built on its own (./gradlew :assembleRelease with a Gradle wrapper of
// your own); inside an app's project, only its build.gradle.kts is used.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "souk"
